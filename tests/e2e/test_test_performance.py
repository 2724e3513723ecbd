"""End to end: ``pytest test_performance.py`` in a subprocess, as CI and people run it, on the embedded
simulator (no API_HOST), checking the exit code, the terminal output and the results files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_perf(tmp_path: Path, entries: list[dict], *args: str, simulator: dict | None = None,
             node: str = "test_performance.py") -> tuple[subprocess.CompletedProcess[str], Path]:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(entries))
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "SCENARIO_"))}
    env["SCENARIO_FILE_NAME"] = str(scenario)
    env["PERF_RESULTS_DIR"] = str(results)
    env["EMBEDDED_SIMULATOR"] = json.dumps({"task_seconds": 0.1, "pending_seconds": 0.05, **(simulator or {})})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", node, "-p", "no:cacheprovider", "-v", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )
    return proc, results


QUICK = [
    {"mode": "PIPELINE_RUN", "startTime": 0, "runTime": "3s", "numTimes": 2, "pollInterval": "100ms"},
    {"mode": "EXPERIMENT", "name": "exp", "startTime": "1s", "runTime": "2s", "numTimes": 1, "pollInterval": "100ms"},
]


def test_passing_scenario_exits_zero_with_table_and_results(tmp_path):
    proc, results = run_perf(tmp_path, QUICK, node="test_performance.py::TestPerformance::test_scenario")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_scenario[PIPELINE_RUN#0] PASSED" in proc.stdout
    assert "test_scenario[exp] PASSED" in proc.stdout
    assert "performance results" in proc.stdout and "embedded KFP simulator" in proc.stdout
    summary = json.loads((results / "summary.json").read_text())
    assert summary["schema_version"] >= 2 and summary["passed"] is True
    assert summary["targets"]["kfp"]["kind"] == "embedded-kfp-simulator"
    by_name = {s["name"]: s for s in summary["scenarios"]}
    assert set(by_name) == {"PIPELINE_RUN#0", "exp"}
    creates = by_name["PIPELINE_RUN#0"]["operations"]["create_run"]
    assert creates["count"] >= 2 and creates["failed"] == 0 and creates["p50_ms"] > 0
    # The entry's window on the shared clock: started after 1 s for "exp".
    events = [json.loads(line) for line in (results / "events.jsonl").read_text().splitlines()]
    ops = [e for e in events if e["type"] == "op"]
    assert sum(1 for e in ops if e["scenario"] == "PIPELINE_RUN#0" and e["op"] == "create_run") == creates["count"]
    marks = {(e["scenario"], e["phase"]): e["t"] for e in events if e["type"] == "scenario"}
    assert marks[("exp", "started")] - marks[("PIPELINE_RUN#0", "started")] == pytest.approx(1.0, abs=0.6)
    for name in ("perf.log", "perf.log.jsonl"):
        assert (results / name).stat().st_size > 0
    json_log = [json.loads(line) for line in (results / "perf.log.jsonl").read_text().splitlines()]
    assert any(line.get("operation") == "create_run" and line.get("duration_ms") for line in json_log)


def test_failing_runs_fail_the_test_naming_scenario_and_errors(tmp_path):
    proc, _results = run_perf(tmp_path, QUICK[:1], "--junitxml", str(tmp_path / "junit.xml"),
                             simulator={"run_failure_probability": 1.0})
    assert proc.returncode == 1
    assert "FAILED test_performance.py::TestPerformance::test_scenario[PIPELINE_RUN#0]" in proc.stdout
    assert "run_duration" in proc.stdout and "run_failed" in proc.stdout
    assert "Traceback" not in proc.stdout
    junit = (tmp_path / "junit.xml").read_text()
    assert "operations failed" in junit and 'name="run_duration.failed"' in junit


def test_invalid_scenario_fails_with_the_message_and_no_traceback(tmp_path):
    proc, _ = run_perf(tmp_path, [{"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1, "numTimes": "two"}])
    assert proc.returncode == 1
    assert "field 'numTimes'" in proc.stdout and "scenario-error" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_unreachable_target_fails_fast_with_a_clear_message(tmp_path):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(QUICK[:1]))
    env = {**os.environ, "API_HOST": "127.0.0.1", "API_PORT": "9", "SCENARIO_FILE_NAME": str(scenario),
           "PERF_RESULTS_DIR": str(tmp_path / "r")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "test_performance.py", "-p", "no:cacheprovider"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "unreachable" in proc.stdout and "API_HOST" in proc.stdout
