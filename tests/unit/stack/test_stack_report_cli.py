"""``python -m perf_tests stack report``: a GuideLLM report plus a recorded stack -> a valid universal report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_tests.cli import main
from perf_tests.llm.results.universal_report import validate_universal_report
from perf_tests.stack.cli import StackState
from perf_tests.stack.options import StackOptions
from perf_tests.stack.record import ReplicaRecord, StackRecord

REPO = Path(__file__).resolve().parents[3]
GUIDELLM_REPORT = REPO / "tests" / "integration" / "tekton" / "data" / "guidellm_report.json"


def test_stack_report_writes_the_universal_report_with_the_stack(tmp_path: Path) -> None:
    record = StackRecord(kind="kubernetes", name="cluster-vllm-abc123", image="vllm/vllm-openai:v0.11.0",
                         model="Qwen/Qwen2.5-0.5B-Instruct", served_model_name="qwen-0.5b", replicas=2,
                         namespace="perf-stack-1", url="http://cluster-vllm-abc123.perf-stack-1.svc:8000",
                         replica_records=[ReplicaRecord(name=f"pod-{n}", node="gpu-node", accelerator="H100",
                                                        created_at=100.0, scheduled_at=101.0, ready_at=130.0 + n)
                                          for n in range(2)])
    record.transition(101.0, "scheduled", "pod-0")
    record.transition(130.0, "ready", "pod-0")
    record.transition(131.0, "ready", "pod-1")
    options = StackOptions.model_validate({"kind": "kubernetes", "image": "i", "model": "m"})
    state = tmp_path / "state.json"
    state.write_text(StackState(entry="cluster-vllm", options=options, record=record).model_dump_json(),
                     encoding="utf-8")
    code = main(["stack", "report", "llm_stack_cluster.json", "--entry", "cluster-vllm", "--data-dir",
                 str(REPO / "test_data"), "--state", str(state), "--guidellm", str(GUIDELLM_REPORT),
                 "--output-dir", str(tmp_path / "out")])
    assert code == 0
    report = json.loads((tmp_path / "out" / "benchmark_report.json").read_text(encoding="utf-8"))
    assert validate_universal_report(report) == []
    engine = report["scenario"]["stack"][0]["standardized"]
    assert (engine["replicas"], engine["accelerator"]["model"], engine["accelerator"]["count"]) == (2, "H100", 2)
    startup = report["results"]["observability"]["pod_startup_times"]
    assert [pod["startup_seconds"] for pod in startup["pods"]] == [29.0, 30.0]  # scheduled -> ready
    assert startup["aggregate"]["min"] == 29.0 and startup["aggregate"]["max"] == 30.0
    series = report["results"]["observability"]["replica_status"]["time_series"]
    assert [point["controllers"][0]["ready_replicas"] for point in series] == [0, 1, 2]


def test_stack_down_without_a_state_file_is_one_clear_error(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stack", "down", "--state", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert "missing.json: cannot be read" in err and "run `stack up` first" in err and "Traceback" not in err
