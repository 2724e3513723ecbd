"""LLM_LOAD with ``"executor": "tekton"`` end to end: scenario file, session, runner, executor, fake cluster.

``data/guidellm_report.json`` was written by a real ``guidellm run`` (GuideLLM 0.8.1, constant 4 req/s for
4 s against ``guidellm mock-server``, the command ``perf_tests.llm.command`` builds). The fake cluster
prints it in the Task's report step; the run must parse it with the local executor's parser, record its
metrics, write the universal report, and never write the kubeconfig's token anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_kube import FAKE_TOKEN, FakeKube

from perf_tests.config.settings import Settings
from perf_tests.session.session import CompletedRun, PerfSession

REPORT_FILE = Path(__file__).parent / "data" / "guidellm_report.json"
ENTRY = {"mode": "LLM_LOAD", "name": "in-cluster", "executor": "tekton", "startTime": 0, "runTime": "3s",
         "targetUrl": "http://mock-llm.llm.svc:8000", "model": "mock-llm", "rateType": "constant", "rate": 4,
         "promptTokens": 32, "outputTokens": 16}  # fmt: skip


def run_scenario(tmp_path: Path, entries: list[dict[str, Any]], kube: FakeKube | None = None,
                 abort_on_pod_start: bool = False) -> CompletedRun:  # fmt: skip
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(entries), encoding="utf-8")
    session = PerfSession(scenario=scenario, settings=Settings(), data_dir=tmp_path / "test_data",
                          results_dir=tmp_path / "results", console_logging=False)  # fmt: skip
    if abort_on_pod_start:
        assert kube is not None
        kube.on_pod_started = session.abort.set
    return session.run()


def scenario_part(outcome: CompletedRun, name: str = "in-cluster") -> dict[str, Any]:
    part: dict[str, Any] = next(p for p in outcome.summary["scenarios"] if p["name"] == name)
    return part


def assert_no_token_in(results: Path) -> None:
    files = [path for path in results.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert FAKE_TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


def events(results: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (results / "events.jsonl").read_text().splitlines() if line.strip()]


def test_llm_load_runs_in_the_cluster(kube: FakeKube, tekton_settings: object, tmp_path: Path) -> None:
    kube.behaviour.report = REPORT_FILE.read_bytes()
    outcome = run_scenario(tmp_path, [{**ENTRY, "thresholds": ["p95(ttft) < 10s"]}])
    part = scenario_part(outcome)
    assert outcome.passed, outcome.failure_message()
    entry_dir = next(p for p in (tmp_path / "results").iterdir() if p.is_dir() and (p / "guidellm.json").exists())
    assert (entry_dir / "guidellm.json").read_bytes() == REPORT_FILE.read_bytes()
    assert (entry_dir / "metrics.json").is_file()
    assert any(entry_dir.glob("benchmark_report*"))
    [created] = kube.created
    params = {p["name"]: p["value"] for p in created["spec"]["params"]}
    assert (params["target-url"], params["rate-type"], params["rate"]) == ("http://mock-llm.llm.svc:8000",
                                                                          "constant", "4.0")  # fmt: skip
    assert "tokenizer" not in params, "no local tokenizer folder is sent to the cluster"
    assert created["metadata"]["labels"]["perf-tests.io/scenario"] == "in-cluster"
    operations = {e.get("op") for e in events(tmp_path / "results")}
    assert {"tekton_create", "tekton_queue", "tekton_run", "tekton_delete"} <= operations
    assert len(kube.deleted) == 1
    assert part["status"] != "error"
    assert_no_token_in(tmp_path / "results")


def test_stair_step_is_one_pipelinerun_per_layer(kube: FakeKube, tekton_settings: object, tmp_path: Path) -> None:
    kube.behaviour.report = REPORT_FILE.read_bytes()
    entry = {**ENTRY, "rate": None, "runTime": "3s", "stages": [{"rate": 1, "duration": "1s"},
                                                                 {"rate": 2, "duration": "2s"}]}  # fmt: skip
    outcome = run_scenario(tmp_path, [entry])
    assert outcome.passed, outcome.failure_message()
    delays = [{p["name"]: p["value"] for p in run["spec"]["params"]}["start-delay"] for run in kube.created]
    assert delays == ["0", "1"]
    assert [run["metadata"]["labels"]["perf-tests.io/instance"] for run in kube.created] == ["0", "1"]
    assert len(kube.deleted) == 2


def test_failure_is_an_error_with_the_step_log(kube: FakeKube, tekton_settings: object, tmp_path: Path) -> None:
    kube.behaviour.outcome = "fail"
    outcome = run_scenario(tmp_path, [ENTRY])
    assert not outcome.passed
    message = scenario_part(outcome)["message"]
    assert "step 'load': Error, exit code 1" in message
    assert "ConnectionError: cannot connect" in message
    assert len(kube.deleted) == 1
    assert_no_token_in(tmp_path / "results")


def test_ctrl_c_cancels_the_pipelinerun(kube: FakeKube, tekton_settings: object, tmp_path: Path) -> None:
    kube.behaviour.outcome = "hang"
    outcome = run_scenario(tmp_path, [{**ENTRY, "runTime": "10m"}], kube, abort_on_pod_start=True)
    assert outcome.interrupted
    assert [patch[2] for patch in kube.patches] == [{"spec": {"status": "Cancelled"}}]
    assert "[cancelled: stopped]" in (scenario_part(outcome).get("message") or "")
    assert len(kube.deleted) == 1


def test_timeout_cancels_the_pipelinerun(kube: FakeKube, tekton_settings: object, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("TEKTON_TIMEOUT_MARGIN", "1")
    kube.behaviour.outcome = "hang"
    outcome = run_scenario(tmp_path, [{**ENTRY, "runTime": "2s"}])
    assert not outcome.passed
    assert "did not finish in time and was cancelled" in scenario_part(outcome)["message"]
    assert [patch[2] for patch in kube.patches] == [{"spec": {"status": "Cancelled"}}]


def test_forbidden_says_which_permission(kube: FakeKube, tekton_settings: object, tmp_path: Path) -> None:
    kube.behaviour.forbidden = {("create", "pipelineruns")}
    outcome = run_scenario(tmp_path, [ENTRY])
    message = scenario_part(outcome)["message"]
    assert "may not create tekton.dev pipelineruns in namespace 'pipelines'" in message
    assert "Traceback" not in message
    assert_no_token_in(tmp_path / "results")


def test_task_not_found(kube: FakeKube, tekton_settings: object, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("TEKTON_TASK_NAME", "missing-task")
    outcome = run_scenario(tmp_path, [ENTRY])
    message = scenario_part(outcome)["message"]
    assert "Task 'missing-task' not found in namespace 'pipelines'" in message
    assert not kube.created


API_KEY = "sk-tekton-api-key-7c1d"
HEADER_VALUE = "gateway-header-secret-42aa"
SECRET_ENTRY = {**ENTRY, "backendOptions": {"api_key": API_KEY}, "headers": {"x-gateway-key": HEADER_VALUE}}


def assert_secret_only_in_the_secret(kube: FakeKube) -> None:
    """No request but the Secret's creation carried a secret value; the PipelineRun names the Secret."""
    [secret_body] = kube.created_secrets
    for run in kube.created:
        text = json.dumps(run)
        assert API_KEY not in text
        assert HEADER_VALUE not in text
        params = {p["name"]: p["value"] for p in run["spec"]["params"]}
        assert params["credentials-secret"].startswith("perf-in-cluster-")
    carrying = [body for body in kube.bodies if API_KEY.encode() in body or HEADER_VALUE.encode() in body]
    assert carrying == [], "secret values travel base64-encoded in the Secret's data only"
    assert secret_body["metadata"]["labels"]["perf-tests.io/scenario"] == "in-cluster"
    assert secret_body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "perf-tests"


def test_secret_values_go_through_a_secret(kube: FakeKube, tekton_settings: object, tmp_path: Path) -> None:
    kube.behaviour.report = REPORT_FILE.read_bytes()
    outcome = run_scenario(tmp_path, [SECRET_ENTRY])
    assert outcome.passed, outcome.failure_message()
    assert_secret_only_in_the_secret(kube)
    [run] = kube.created
    name = {p["name"]: p["value"] for p in run["spec"]["params"]}["credentials-secret"]
    [seen] = kube.pod_secrets.values()
    options = json.loads(seen["backend-options"])
    assert options["api_key"] == API_KEY, "the pod got the key from the Secret"
    assert options["extras"]["headers"] == {"x-gateway-key": HEADER_VALUE}
    assert kube.deleted_secrets == [name]
    assert not kube.secrets
    for path in (tmp_path / "results").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert API_KEY not in text, path
            assert HEADER_VALUE not in text, path


def test_secret_is_deleted_after_ctrl_c(kube: FakeKube, tekton_settings: object, tmp_path: Path) -> None:
    kube.behaviour.outcome = "hang"
    outcome = run_scenario(tmp_path, [{**SECRET_ENTRY, "runTime": "10m"}], kube, abort_on_pod_start=True)
    assert outcome.interrupted
    assert len(kube.created_secrets) == 1
    assert len(kube.deleted_secrets) == 1
    assert not kube.secrets


def test_secret_is_deleted_when_the_pipelinerun_cannot_be_created(
    kube: FakeKube, tekton_settings: object, tmp_path: Path
) -> None:
    kube.behaviour.forbidden = {("create", "pipelineruns")}
    outcome = run_scenario(tmp_path, [SECRET_ENTRY])
    assert not outcome.passed
    assert len(kube.created_secrets) == 1
    assert not kube.secrets, "the Secret does not outlive a failed run"


def test_no_secret_without_secret_values(kube: FakeKube, tekton_settings: object, tmp_path: Path) -> None:
    kube.behaviour.report = REPORT_FILE.read_bytes()
    outcome = run_scenario(tmp_path, [ENTRY])
    assert outcome.passed, outcome.failure_message()
    assert not kube.created_secrets
    [run] = kube.created
    assert "credentials-secret" not in {p["name"] for p in run["spec"]["params"]}
