"""Building the PipelineRun, applying a user's template, and reading a PipelineRun's status."""

from __future__ import annotations

import re
from typing import Any

import pytest

from perf_tests.errors import ConfigurationError
from perf_tests.tekton.pipelinerun import (
    LABEL_INSTANCE,
    LABEL_RUN_ID,
    LABEL_SCENARIO,
    TaskLocation,
    Workspace,
    apply_template,
    build_pipelinerun,
    format_duration,
    label_value,
    outcome,
    parse_time,
    pipelinerun_results,
    run_labels,
)

PARAMS = {"target-url": "http://llm:8000", "model": "m", "rate-type": "poisson", "rate": "2"}
TASK = TaskLocation("guidellm-load-generator", "pipelines")
LABEL = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$")


def test_pipelinerun_references_the_task_through_the_cluster_resolver() -> None:
    body = build_pipelinerun(PARAMS, task=TASK, labels=run_labels("r", "e"), timeout=125.2, scenario="My Entry #1")
    assert body["apiVersion"] == "tekton.dev/v1"
    assert body["kind"] == "PipelineRun"
    assert body["metadata"]["generateName"] == "perf-my-entry-1-"
    [task] = body["spec"]["pipelineSpec"]["tasks"]
    assert task["taskRef"] == {
        "resolver": "cluster",
        "params": [
            {"name": "kind", "value": "task"},
            {"name": "name", "value": "guidellm-load-generator"},
            {"name": "namespace", "value": "pipelines"},
        ],
    }
    assert task["params"] == [{"name": name, "value": f"$(params.{name})"} for name in PARAMS]
    assert body["spec"]["params"] == [{"name": name, "value": value} for name, value in PARAMS.items()]
    assert [p["name"] for p in body["spec"]["pipelineSpec"]["params"]] == list(PARAMS)
    assert task["workspaces"] == [{"name": "results", "workspace": "results"}]
    assert body["spec"]["workspaces"] == [{"name": "results", "emptyDir": {}}]
    assert body["spec"]["timeouts"] == {"pipeline": "0h2m6s"}
    assert "taskRunTemplate" not in body["spec"]
    results = {r["name"]: r["value"] for r in body["spec"]["pipelineSpec"]["results"]}
    assert results["start-time"] == "$(tasks.load.results.start-time)"


def test_volume_claim_and_service_account() -> None:
    body = build_pipelinerun(
        PARAMS,
        task=TASK,
        labels={},
        timeout=10,
        workspace=Workspace("volumeClaimTemplate", "gp3", "5Gi"),
        service_account="runner",
    )
    [binding] = body["spec"]["workspaces"]
    assert binding["volumeClaimTemplate"]["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "gp3",
    }
    assert body["spec"]["taskRunTemplate"] == {"serviceAccountName": "runner"}
    default_class = Workspace("volumeClaimTemplate").binding()
    assert "storageClassName" not in default_class["volumeClaimTemplate"]["spec"]


def test_labels_are_valid_label_values() -> None:
    labels = run_labels("20240501-120000-123", "stair step / copy " + "x" * 80, instance=3)
    assert labels[LABEL_RUN_ID] == "20240501-120000-123"
    assert labels[LABEL_INSTANCE] == "3"
    assert all(LABEL.match(value) for value in labels.values())
    assert len(labels[LABEL_SCENARIO]) <= 63
    assert label_value("--a b--") == "a-b"


@pytest.mark.parametrize(("seconds", "text"), [(0, "0h0m1s"), (59.1, "0h1m0s"), (3600, "1h0m0s"), (4000, "1h6m40s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_template_gets_the_values_of_the_params_it_declares() -> None:
    template: dict[str, Any] = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": "mine", "namespace": "elsewhere", "labels": {"team": "a"}},
        "spec": {
            "params": [{"name": "target-url", "value": "http://old"}, {"name": "keep", "value": "x"}],
            "pipelineSpec": {"params": [{"name": "target-url"}, {"name": "model"}, {"name": "keep"}], "tasks": []},
        },
    }
    body = apply_template(template, PARAMS, labels={"perf-tests.io/run-id": "r"}, timeout=60)
    assert body["metadata"] == {"generateName": "mine-", "labels": {"team": "a", "perf-tests.io/run-id": "r"}}
    assert body["spec"]["params"] == [
        {"name": "keep", "value": "x"},
        {"name": "target-url", "value": "http://llm:8000"},
        {"name": "model", "value": "m"},
    ]
    assert body["spec"]["timeouts"] == {"pipeline": "0h1m0s"}
    assert template["metadata"]["name"] == "mine", "the template itself is not changed"


def test_template_keeps_its_own_timeout() -> None:
    template = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"generateName": "g-"},
        "spec": {"timeouts": {"pipeline": "5h"}, "pipelineRef": {"name": "p"}},
    }
    body = apply_template(template, PARAMS, labels={}, timeout=60)
    assert body["spec"]["timeouts"] == {"pipeline": "5h"}
    assert body["spec"]["params"] == []
    assert body["metadata"]["generateName"] == "g-"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"apiVersion": "v1", "kind": "Pod"}, "must be a tekton.dev PipelineRun"),
        ({"apiVersion": "tekton.dev/v1beta1", "kind": "PipelineRun"}, "must use apiVersion tekton.dev/v1"),
    ],
)
def test_template_must_be_a_v1_pipelinerun(template: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        apply_template(template, PARAMS, labels={})


def test_status_reading() -> None:
    run = {
        "status": {
            "conditions": [{"type": "Succeeded", "status": "False", "reason": "Cancelled", "message": "cancelled"}],
            "results": [{"name": "start-time", "value": "2024-05-01T12:00:00Z"}, {"name": "n", "value": 3}],
        }
    }
    state = outcome(run)
    assert (state.status, state.reason, state.done, state.succeeded) == ("False", "Cancelled", True, False)
    assert outcome({}).reason == "Pending"
    assert not outcome({}).done
    assert pipelinerun_results(run) == {"start-time": "2024-05-01T12:00:00Z", "n": "3"}
    assert parse_time("2024-05-01T12:00:00Z") == 1714564800.0
    assert parse_time("2024-05-01T12:00:00.5Z") == 1714564800.5
    assert parse_time("not a time") is None
    assert parse_time(None) is None
