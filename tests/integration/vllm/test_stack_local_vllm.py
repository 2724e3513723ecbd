"""The ``local-vllm`` stack end to end with the real vLLM CPU server and a real GuideLLM, through the CLI.

One scenario entry with a ``stack`` and a two-combination ``matrix`` over a server flag
(``stack.args``: ``--max-num-seqs 4`` and ``8``): each combination deploys its own vLLM on a free loopback
port, loads it, records it and tears it down, the second only after the first is gone. Afterwards
nothing of either server is running (psutil), summary.json carries each stack's record and each entry's
universal report is valid against the llm-d schema with ``scenario.stack`` and
``results.observability``. Two server starts: the longest test of the stack (minutes on 2 cores).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import psutil
import pytest

from perf_tests.llm.results.universal_report import validate_universal_report
from tests.perf_cli import perf_run

pytestmark = [pytest.mark.vllm, pytest.mark.llm, pytest.mark.slow]


def _vllm_processes(ports: set[int]) -> list[str]:
    """Command lines of vLLM servers on ``ports`` that still run."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if "vllm.entrypoints.openai.api_server" in cmdline and "--port" in cmdline:
            port = cmdline[cmdline.index("--port") + 1]
            if port.isdigit() and int(port) in ports:
                found.append(" ".join(cmdline))
    return found


def test_a_matrix_over_a_server_flag_deploys_loads_records_and_tears_down_two_stacks(
        vllm_python: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("guidellm") is None:
        pytest.skip("GuideLLM is not installed (install the llm extra)")
    scenario = tmp_path / "stack_matrix.json"
    scenario.write_text(json.dumps([{
        "mode": "LLM_LOAD", "name": "stack", "startTime": 0, "runTime": "6s", "rateType": "constant", "rate": 2,
        "promptTokens": 16, "outputTokens": 8, "requestFormat": "completions", "workers": 1, "startupLead": "40s",
        "stack": {"kind": "local-vllm", "readyTimeout": "5m"},
        "matrix": {"stack.args": [["--max-num-seqs", "4"], ["--max-num-seqs", "8"]]},
        "thresholds": ["success_rate(requests) >= 1"],
    }]), encoding="utf-8")
    results = tmp_path / "results"
    run = perf_run(scenario, results, {"VLLM_PYTHON": str(vllm_python)}, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    entries = {entry["name"]: entry for entry in summary["scenarios"]}
    names = ["stack[stack.args=--max-num-seqs 4]", "stack[stack.args=--max-num-seqs 8]"]
    assert sorted(entries) == names
    records: list[dict[str, Any]] = [entries[name]["attrs"]["stack"] for name in names]
    for record, seqs in zip(records, ("4", "8"), strict=True):
        assert record["kind"] == "local-vllm" and record["served_model_name"] == "tiny-llama"
        assert record["args"][-2:] == ["--max-num-seqs", seqs]  # the combination's flag, last: it wins
        assert record["ready_at"] > record["deploy_started_at"] and record["stopped_at"] >= record["ready_at"]
        assert [t["state"] for t in record["transitions"] if t["replica"] is None] == [
            "starting", "ready", "stopping", "stopped"]
    first, second = records
    assert second["deploy_started_at"] >= first["stopped_at"]  # one after the other
    for name in names:  # rates per second of the load (GuideLLM's run), not of the deployment too
        entry = entries[name]
        assert entry["duration_s"] > entry["load_duration_s"] + 40  # the entry holds the deploy and startupLead
        ours, guidellm = entry["operations"]["llm_request"], entry["operations"]["requests"]
        assert ours["throughput"] == pytest.approx(ours["count"] / entry["load_duration_s"])
        assert ours["throughput"] == pytest.approx(guidellm["throughput"], rel=0.25)

    ports = {int(record["url"].rsplit(":", 1)[1]) for record in records}
    assert len(ports) == 2
    assert _vllm_processes(ports) == []  # nothing of either server is left running

    for name in names:
        folder = next(path for path in results.iterdir() if path.is_dir() and (path / "stack.json").is_file()
                      and json.loads((path / "stack.json").read_text(encoding="utf-8"))["name"] == name)
        report = json.loads((folder / "benchmark_report.json").read_text(encoding="utf-8"))
        assert validate_universal_report(report) == []
        engine = report["scenario"]["stack"][0]["standardized"]
        assert engine["kind"] == "inference_engine" and engine["tool"] == "vllm" and engine["replicas"] == 1
        pods = report["results"]["observability"]["pod_startup_times"]["pods"]
        assert len(pods) == 1 and pods[0]["startup_seconds"] > 0
        assert report["results"]["request_performance"]["aggregate"]["requests"]["total"] > 0
