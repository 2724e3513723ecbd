"""PipelineRunSession and TektonClient against the fake Kubernetes API, with the real ``kubernetes`` client."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_kube import FAKE_TOKEN, FakeKube, write_kubeconfig

from perf_tests.errors import TargetError
from perf_tests.tekton.client import PERMISSIONS, TektonClient
from perf_tests.tekton.pipelinerun import TaskLocation, Workspace, build_pipelinerun, build_secret, run_labels
from perf_tests.tekton.session import PipelineRunSession
from perf_tests.tekton.settings import TektonSettings

RBAC_FILE = Path(__file__).resolve().parents[3] / "deploy" / "tekton" / "rbac.yaml"
TASK = TaskLocation("guidellm-load-generator", "pipelines")
PARAMS = {
    "target-url": "http://llm.example:8000",
    "model": "tiny",
    "rate-type": "synchronous",
    "max-seconds": "5",
    "output-basename": "bench",
}
REPORT = json.dumps({"benchmarks": [{"type_": "generative_benchmark"}]}).encode()


class Events:
    """Collects what the session emits."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __call__(
        self,
        operation: str,
        start: float,
        duration: float,
        ok: bool,
        error_type: str | None = None,
        error: str | None = None,
        attrs: Any = None,
    ) -> None:
        self.items.append(
            {
                "operation": operation,
                "start": start,
                "duration": duration,
                "ok": ok,
                "error_type": error_type,
                "error": error,
                "attrs": dict(attrs or {}),
            }
        )

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["operation"] == operation]


def new_session(
    client: TektonClient, settings: TektonSettings, events: Events, scenario: str = "entry-1"
) -> PipelineRunSession:
    return PipelineRunSession(client, settings, run_labels("run-1", scenario), emit=events)


def body(timeout: float = 60.0, workspace: Workspace | None = None, scenario: str = "entry-1") -> dict[str, Any]:
    return build_pipelinerun(
        PARAMS, task=TASK, labels=run_labels("run-1", scenario), timeout=timeout, workspace=workspace, scenario=scenario
    )


def test_success_collects_the_report_and_timings(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    kube.behaviour.report = REPORT
    events = Events()
    session = new_session(client, tekton_settings, events)
    session.check_task(TASK, PARAMS)
    name = session.create(body(workspace=Workspace("volumeClaimTemplate", "fast", "2Gi")))
    session.wait(time.monotonic() + 60)
    [result] = session.collect()
    assert result.ok, result.problem()
    assert result.report == ("bench.json", REPORT)
    assert result.queue_delay is not None
    assert 0 <= result.queue_delay < 30
    assert result.results["benchmark-report"] == "/workspace/results/bench.json"
    assert {"start-time", "end-time", "log-file"} <= set(result.results)
    assert result.problem() == ""
    assert [e["ok"] for e in events.of("tekton_run")] == [True]
    assert events.of("tekton_queue")[0]["attrs"]["pipelinerun"] == name
    assert session.progress() == "1 PipelineRun: 1 Succeeded"
    session.cleanup()
    assert kube.deleted == [name]
    created = kube.created[0]
    assert created["spec"]["workspaces"][0]["volumeClaimTemplate"]["spec"]["storageClassName"] == "fast"
    assert not kube.patches


def test_keep_leaves_the_pipelinerun(kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings) -> None:
    session = new_session(client, tekton_settings, Events())
    session.create(body())
    session.wait(time.monotonic() + 60)
    session.cleanup(keep=True)
    assert not kube.deleted
    assert len(list(kube.runs())) == 1


def test_failure_names_the_step_and_quotes_its_log(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    kube.behaviour.outcome = "fail"
    events = Events()
    session = new_session(client, tekton_settings, events)
    session.create(body())
    session.wait(time.monotonic() + 60)
    [result] = session.collect()
    assert not result.ok
    assert result.outcome.reason == "Failed"
    assert result.failed_step is not None
    assert result.failed_step.step == "load"
    assert result.failed_step.exit_code == 1
    problem = result.problem()
    assert "step 'load': Error, exit code 1" in problem
    assert "ConnectionError: cannot connect" in problem
    assert result.report is None
    assert events.of("tekton_run")[0]["error_type"] == "Failed"
    session.cleanup()


def test_timeout_cancels_with_a_merge_patch(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    kube.behaviour.outcome = "hang"
    events = Events()
    session = new_session(client, tekton_settings, events)
    name = session.create(body())
    session.wait(time.monotonic() + 1.0)
    [result] = session.collect()
    assert session.stop_reason == "timeout"
    assert result.cancelled == "timeout"
    assert result.outcome.reason == "Cancelled"
    assert kube.patches == [(name, "application/merge-patch+json", {"spec": {"status": "Cancelled"}})]
    assert "[cancelled: timeout]" in result.problem()
    assert events.of("tekton_cancel")[0]["attrs"]["reason"] == "timeout"
    session.cleanup()
    assert kube.deleted == [name]


def test_stop_cancels_at_once(kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings) -> None:
    kube.behaviour.outcome = "hang"
    session = new_session(client, tekton_settings, Events())
    kube.on_pod_started = lambda: session.stop("stopped")
    session.create(body())
    began = time.monotonic()
    session.wait(time.monotonic() + 600)
    assert time.monotonic() - began < 300
    [result] = session.collect()
    assert result.cancelled == "stopped"
    assert result.outcome.reason == "Cancelled"
    session.cleanup()


def test_a_cancel_that_is_ignored_gives_up_after_the_grace(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    kube.behaviour.outcome = "hang"
    kube.behaviour.ignore_cancel = True
    settings = tekton_settings.model_copy(update={"cancel_grace": 0.5})
    session = new_session(client, settings, Events())
    session.create(body())
    session.stop("stopped")
    session.wait(time.monotonic() + 600)
    [result] = session.collect()
    assert not result.outcome.done
    assert "did not finish" in result.problem()
    session.cleanup()


def test_polls_when_watching_is_forbidden(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    kube.behaviour.forbidden = {("watch", "pipelineruns")}
    session = new_session(client, tekton_settings, Events())
    session.create(body())
    session.wait(time.monotonic() + 60)
    [result] = session.collect()
    assert result.ok
    assert ("tekton.dev", "pipelineruns", "get") in kube.used()
    session.cleanup()


def test_forbidden_create_says_which_permission_is_missing(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    kube.behaviour.forbidden = {("create", "pipelineruns")}
    events = Events()
    session = new_session(client, tekton_settings, events)
    with pytest.raises(TargetError) as caught:
        session.create(body())
    message = str(caught.value)
    assert "may not create tekton.dev pipelineruns in namespace 'pipelines'" in message
    assert "deploy/tekton/rbac.yaml" in message
    assert FAKE_TOKEN not in message
    assert events.of("tekton_create")[0]["ok"] is False


def test_missing_task_is_reported_before_the_start(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    session = new_session(client, tekton_settings, Events())
    with pytest.raises(TargetError, match=r"Task 'nope' not found in namespace 'pipelines'.*kubectl apply -k"):
        session.check_task(TaskLocation("nope", "pipelines"))


def test_task_lacking_a_param_is_reported(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    session = new_session(client, tekton_settings, Events())
    with pytest.raises(TargetError, match="does not declare the params surprise"):
        session.check_task(TASK, {**PARAMS, "surprise": "1"})


def test_resolver_failure_is_explained(kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings) -> None:
    session = new_session(client, tekton_settings, Events())
    session.create(
        build_pipelinerun(
            PARAMS, task=TaskLocation("nope", "pipelines"), labels=run_labels("run-1", "entry-1"), timeout=60
        )
    )
    session.wait(time.monotonic() + 60)
    [result] = session.collect()
    assert result.outcome.reason == "CouldntGetTask"
    assert "the cluster resolver could not get the Task" in result.problem()
    session.cleanup()


def test_wrong_token_asks_to_log_in_again(kube: FakeKube, tmp_path: Path, tekton_settings: TektonSettings) -> None:
    path = write_kubeconfig(tmp_path / "other", kube.url, "another-token-123456")
    settings = tekton_settings.model_copy(update={"kubeconfig": str(path)})
    client = TektonClient.connect(settings)
    try:
        with pytest.raises(TargetError, match=r"401 Unauthorized.*log in again") as caught:
            client.get_task("guidellm-load-generator", "pipelines")
    finally:
        client.close()
    assert "another-token-123456" not in str(caught.value)


def test_unreachable_cluster(tmp_path: Path, tekton_settings: TektonSettings) -> None:
    path = write_kubeconfig(tmp_path / "down", "http://127.0.0.1:9", FAKE_TOKEN)
    client = TektonClient.connect(tekton_settings.model_copy(update={"kubeconfig": str(path)}))
    try:
        with pytest.raises(TargetError, match=r"cannot reach the Kubernetes API at http://127.0.0.1:9"):
            client.get_pipelinerun("x")
    finally:
        client.close()


def test_every_call_is_granted_by_the_role(
    kube: FakeKube, client: TektonClient, tekton_settings: TektonSettings
) -> None:
    """Run every kind of call, then check each one the fake served against deploy/tekton/rbac.yaml."""
    session = new_session(client, tekton_settings, Events())
    session.check_task(TASK, PARAMS)
    kube.behaviour.outcome = "fail"
    session.create(body())
    session.wait(time.monotonic() + 60)
    session.collect()
    session.cleanup()
    kube.behaviour.outcome = "hang"
    other = new_session(client, tekton_settings, Events(), scenario="entry-2")
    other.create(body(scenario="entry-2"))
    other.wait(time.monotonic() + 0.5)
    other.collect()
    other.cleanup()
    kube.behaviour.outcome = "succeed"
    kube.behaviour.forbidden = {("watch", "pipelineruns")}  # polling reads each PipelineRun
    third = new_session(client, tekton_settings, Events(), scenario="entry-3")
    third.create(body(scenario="entry-3"))
    third.wait(time.monotonic() + 60)
    third.collect()
    third.cleanup()
    secret = client.create_secret(build_secret({"backend-options": "{}"}, labels={"perf-tests.io/run-id": "x"}))
    assert client.delete_secret(secret)
    assert not client.delete_secret(secret), "a Secret already gone is no error"

    role = next(doc for doc in yaml.safe_load_all(RBAC_FILE.read_text()) if doc["kind"] == "Role")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    declared = {(p.api_group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    used = kube.used()
    assert used <= granted
    assert used == declared, "every permission the client declares is exercised here"
