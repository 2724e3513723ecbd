"""TektonLoad through its whole lifecycle against the fake cluster."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fake_kube import FAKE_TOKEN, FakeKube

from perf_tests.errors import ConfigurationError, TargetError
from perf_tests.tekton.load import LoadInstance, TektonLoad
from perf_tests.tekton.settings import TektonSettings

PARAMS = {
    "target-url": "http://llm:8000",
    "model": "tiny",
    "rate-type": "constant",
    "rate": "0.5",
    "max-seconds": "2",
    "output-basename": "step",
}


def new_load(settings: TektonSettings, **kwargs: Any) -> TektonLoad:
    return TektonLoad(settings, run_id="20240501-120000-000", scenario="stair", run_time=2.0, **kwargs)


def test_stair_step_instances_each_get_a_pipelinerun(
    kube: FakeKube, tekton_settings: TektonSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kube.behaviour.report = b'{"benchmarks": []}'
    load = new_load(tekton_settings)
    instances = [
        LoadInstance({**PARAMS, "start-delay": str(10 * i), "output-basename": f"step-{i}"}, i) for i in range(4)
    ]
    load.prepare(instances[0].params)
    try:
        results = load.run(instances)
    finally:
        load.cleanup()
    assert [r.instance for r in results] == [0, 1, 2, 3]
    assert [r.report for r in results] == [(f"step-{i}.json", b'{"benchmarks": []}') for i in range(4)]
    assert all(r.ok for r in results), [r.problem() for r in results]
    timeouts = {run["spec"]["timeouts"]["pipeline"] for run in kube.created}
    assert timeouts == {"0h15m32s"}, "runTime 2s + largest start delay 30s + margin 900s"
    assert [run["metadata"]["labels"]["perf-tests.io/instance"] for run in kube.created] == ["0", "1", "2", "3"]
    assert sorted(kube.deleted) == sorted(r.name for r in results)
    assert FAKE_TOKEN not in caplog.text
    assert "created PipelineRun pipelines/perf-stair-" in caplog.text


def test_template_is_used_as_given(kube: FakeKube, tekton_settings: TektonSettings) -> None:
    template = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": "custom"},
        "spec": {
            "params": [{"name": "target-url", "value": "http://placeholder"}],
            "pipelineSpec": {
                "params": [{"name": "target-url", "type": "string"}],
                "workspaces": [{"name": "results"}],
                "tasks": [
                    {
                        "name": "mine",
                        "taskRef": {
                            "resolver": "cluster",
                            "params": [
                                {"name": "kind", "value": "task"},
                                {"name": "name", "value": "guidellm-load-generator"},
                                {"name": "namespace", "value": "pipelines"},
                            ],
                        },
                        "params": [
                            {"name": "target-url", "value": "$(params.target-url)"},
                            {"name": "rate-type", "value": "throughput"},
                        ],
                        "workspaces": [{"name": "results", "workspace": "results"}],
                    }
                ],
            },
            "workspaces": [{"name": "results", "emptyDir": {}}],
        },
    }
    load = new_load(tekton_settings, template=template, keep=True)
    load.prepare()
    try:
        [result] = load.run([LoadInstance(PARAMS)])
    finally:
        load.cleanup()
    assert result.ok
    [created] = kube.created
    assert created["metadata"]["generateName"] == "custom-"
    assert created["spec"]["params"] == [{"name": "target-url", "value": "http://llm:8000"}]
    assert created["metadata"]["labels"]["perf-tests.io/scenario"] == "stair"
    assert not kube.deleted, "keepPipelineRuns"
    assert ("tekton.dev", "tasks", "get") not in kube.used(), "no Task check with a template"


def test_stop_from_another_thread_cancels(kube: FakeKube, tekton_settings: TektonSettings) -> None:
    kube.behaviour.outcome = "hang"
    load = new_load(tekton_settings)
    kube.on_pod_started = lambda: load.stop("stopped")
    load.prepare(PARAMS)
    try:
        results = load.run([LoadInstance(PARAMS)])
    finally:
        load.cleanup()
    assert load.stop_reason == "stopped"
    assert results[0].outcome.reason == "Cancelled"
    assert re.search(r"failed: Cancelled.*\[cancelled: stopped\]", results[0].problem())


def test_timeout_cancels_and_says_so(kube: FakeKube, tekton_settings: TektonSettings) -> None:
    kube.behaviour.outcome = "hang"
    load = new_load(tekton_settings.model_copy(update={"timeout_margin": 0.0}))
    load.prepare(PARAMS)
    try:
        results = load.run([LoadInstance(PARAMS)])
    finally:
        load.cleanup()
    assert load.stop_reason == "timeout"
    assert [p[0] for p in kube.patches] == [results[0].name]
    assert "[cancelled: timeout]" in results[0].problem()


def test_missing_task_fails_prepare(kube: FakeKube, tekton_settings: TektonSettings) -> None:
    load = new_load(tekton_settings.model_copy(update={"task_namespace": "elsewhere"}))
    try:
        with pytest.raises(TargetError, match="Task 'guidellm-load-generator' not found in namespace 'elsewhere'"):
            load.prepare(PARAMS)
    finally:
        load.cleanup()
    assert not kube.created


def test_forbidden_create_after_the_first_cancels_the_first(kube: FakeKube, tekton_settings: TektonSettings) -> None:
    load = new_load(tekton_settings)
    load.prepare(PARAMS)
    kube.behaviour.outcome = "hang"
    kube.behaviour.max_creates = 1
    try:
        with pytest.raises(TargetError, match="may not create"):
            load.run([LoadInstance(PARAMS, 0), LoadInstance(PARAMS, 1)])
    finally:
        load.cleanup()
    assert len(kube.created) == 1
    assert [p[2] for p in kube.patches] == [{"spec": {"status": "Cancelled"}}]
    assert len(kube.deleted) == 1


def test_template_without_the_credentials_param_is_refused_for_secrets(
    kube: FakeKube, tekton_settings: TektonSettings
) -> None:
    template = {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "custom"},
                "spec": {"params": [{"name": "target-url", "value": "x"}]}}  # fmt: skip
    load = new_load(tekton_settings, template=template)
    with pytest.raises(ConfigurationError, match="must declare the param 'credentials-secret'"):
        load.prepare(PARAMS, with_secrets=True)
    assert not kube.requests, "refused before any call"
