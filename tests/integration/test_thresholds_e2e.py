"""Thresholds and baselines end to end: ``pytest test_performance.py --scenario <file>`` in a subprocess,
as CI runs it, against the embedded KFP simulator (no ``API_HOST``), checking the exit code, the failure
message, JUnit XML, the console table and the report files."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from perf_tests.reports import validate_summary

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ENTRY = {"mode": "PIPELINE_RUN", "startTime": 0, "runTime": "4s", "numTimes": 2, "pollInterval": "100ms"}


def run_perf(tmp_path: Path, entries: list[dict[str, Any]], *args: str,
             env_extra: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(entries))
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "SCENARIO_"))}
    env["EMBEDDED_SIMULATOR"] = json.dumps({"task_seconds": 0.1, "pending_seconds": 0.05})
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_performance.py", "-p", "no:cacheprovider", "-v",
         "--scenario", str(scenario), "--perf-results-dir", str(results),
         "--junitxml", str(tmp_path / "junit.xml"), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    return proc, results


def junit_case(tmp_path: Path) -> ET.Element:
    (case,) = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    return case


def properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_thresholds_that_are_met_pass(tmp_path):
    entry = {**ENTRY, "thresholds": ["p95(create_run) < 30s", "success_rate >= 0.9", "count(create_run) >= 2"]}
    proc, results = run_perf(tmp_path, [entry])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_scenario[PIPELINE_RUN#0] PASSED" in proc.stdout
    assert "[PASS] p95(create_run) < 30s passed: measured" in proc.stdout
    summary = json.loads((results / "summary.json").read_text())
    assert validate_summary(summary) == []
    part = summary["scenarios"][0]
    assert [t["threshold"] for t in part["thresholds"]] == entry["thresholds"]
    assert all(t["passed"] for t in part["thresholds"])
    # A failure threshold replaces the default 'failures' check.
    assert [c["name"] for c in part["verdict"]["checks"]] == ["ran", *entry["thresholds"]]
    for name in ("report.html", "summary.csv", "run.json"):
        assert (results / name).is_file()
    props = properties(junit_case(tmp_path))
    assert props["check.p95(create_run) < 30s"] == "pass"
    assert float(props["check.p95(create_run) < 30s.limit"]) == 30_000.0


def test_a_threshold_that_cannot_be_met_fails_naming_scenario_threshold_measured_and_limit(tmp_path):
    entry = {**ENTRY, "thresholds": ["p95(create_run) < 30s", "p95(get_run) < 0.001ms"]}
    proc, results = run_perf(tmp_path, [entry])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED test_performance.py::TestPerformance::test_scenario[PIPELINE_RUN#0]" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if "p95(get_run) < 0.001ms failed: measured" in x)
    assert "PIPELINE_RUN#0: p95(get_run) < 0.001ms failed: measured " in line and line.endswith(", limit 0.001ms")
    assert "[FAIL] p95(get_run) < 0.001ms failed" in proc.stdout  # the console table marks it
    assert "Traceback" not in proc.stdout + proc.stderr
    case = junit_case(tmp_path)
    failure = case.find("failure")
    assert failure is not None
    assert "PIPELINE_RUN#0: p95(get_run) &lt; 0.001ms failed" in ET.tostring(failure, encoding="unicode")
    assert "p95(create_run) < 30s" not in (failure.get("message") or "")  # only failed thresholds are listed
    props = properties(case)
    assert props["check.p95(get_run) < 0.001ms"] == "fail"
    assert float(props["check.p95(get_run) < 0.001ms.measured"]) > 0.001
    summary = json.loads((results / "summary.json").read_text())
    assert summary["passed"] is False
    assert "p95(get_run) &lt; 0.001ms" in (results / "report.html").read_text()


def test_a_misspelled_metric_fails_before_the_run_with_the_valid_names(tmp_path):
    entry = {**ENTRY, "thresholds": ["p959(create_run) < 2s"]}
    proc, results = run_perf(tmp_path, [entry])
    assert proc.returncode == 1
    assert "scenario-error" in proc.stdout
    assert "unknown metric 'p959'; valid metrics: avg, mean, med, min, max, p50, p90, p95, p99, pNN" in proc.stdout
    assert not (results / "events.jsonl").exists()  # nothing ran


def _faster(summary: dict[str, Any]) -> dict[str, Any]:
    """The same run, ten times faster: a baseline this run must regress against."""
    baseline = copy.deepcopy(summary)
    baseline["run_id"] = "fast-baseline"
    for part in baseline["scenarios"]:
        for op in part["operations"].values():
            for key in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms"):
                if isinstance(op.get(key), int | float):
                    op[key] = op[key] / 10.0
    return baseline


def test_a_baseline_with_faster_numbers_fails_naming_the_regressed_operations(tmp_path):
    (tmp_path / "first").mkdir()
    first, first_results = run_perf(tmp_path / "first", [ENTRY])
    assert first.returncode == 0, first.stdout + first.stderr
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(_faster(json.loads((first_results / "summary.json").read_text()))))
    (tmp_path / "second").mkdir()
    # A short run has few samples: compare from 2 on (p50); percentiles above need more and are skipped.
    # The simulator answers create_run in about a millisecond, so a ten times faster baseline differs by
    # less than the default 1 ms noise floor: the floor is 0 here, or the verdict would depend on the machine.
    proc, results = run_perf(tmp_path / "second", [ENTRY], "--baseline", str(baseline), "--max-regression", "20%",
                             env_extra={"PERF_BASELINE_MIN_SAMPLES": "2", "PERF_BASELINE_FLOOR_MS": "0"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "PIPELINE_RUN#0: baseline p50(get_run) regressed: " in proc.stdout
    assert "tolerance 20%) against run fast-baseline" in proc.stdout
    assert "[FAIL] baseline p50(create_run) regressed" in proc.stdout
    summary = json.loads((results / "summary.json").read_text())
    assert validate_summary(summary) == []
    comparison = summary["scenarios"][0]["baseline"]
    assert comparison["run_id"] == "fast-baseline" and comparison["tolerance"] == pytest.approx(0.2)
    regressed = {c["operation"] for c in comparison["comparisons"] if c["status"] == "regression"}
    assert {"create_run", "get_run"} <= regressed
    props = properties(junit_case(tmp_path / "second"))
    assert props["check.baseline p50(get_run)"] == "fail"
    assert "Baseline: run fast-baseline" in (results / "report.html").read_text()
    # The same comparison without running anything.
    compare = subprocess.run([sys.executable, "-m", "perf_tests", "compare", str(baseline), str(results),
                              "--min-samples", "2", "--floor-ms", "0"],
                             cwd=REPO, capture_output=True, text=True, check=False)
    assert compare.returncode == 1
    assert "PIPELINE_RUN#0: p50(get_run)" in compare.stdout.splitlines()[-1]


def test_a_bad_baseline_fails_before_the_run(tmp_path):
    proc, results = run_perf(tmp_path, [ENTRY], "--baseline", str(tmp_path / "missing.json"))
    assert proc.returncode == 1
    assert "does not exist; give a previous run's summary.json" in proc.stdout
    assert not (results / "events.jsonl").exists()


def _start_long_run(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """``python -m perf_tests run`` of a one-minute entry, returned once its first run was created."""
    scenario = tmp_path / "long.json"
    scenario.write_text(json.dumps([{**ENTRY, "runTime": "60s", "thresholds": ["p95(create_run) < 30s"]}]))
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "SCENARIO_"))}
    env["EMBEDDED_SIMULATOR"] = json.dumps({"task_seconds": 0.1, "pending_seconds": 0.05})
    proc = subprocess.Popen(
        [sys.executable, "-m", "perf_tests", "run", str(scenario), "--results-dir", str(results)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    events = results / "events.jsonl"
    # Wait for the condition itself (a create_run in the events file), bounded, noticing an early exit.
    for _ in range(600):
        if events.is_file() and '"op":"create_run"' in events.read_text():
            return proc, results
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        break
    proc.kill()
    output, _ = proc.communicate()
    raise AssertionError(f"the run did not create a run in time:\n{output}")


def test_an_interrupted_run_still_writes_its_reports(tmp_path):
    proc, results = _start_long_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, output
    summary = json.loads((results / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["passed"] is False
    assert summary["scenarios"][0]["thresholds"][0]["threshold"] == "p95(create_run) < 30s"
    assert "The run was interrupted" in (results / "report.html").read_text()
    assert (results / "summary.csv").is_file()


def test_after_kill_9_the_report_command_rebuilds_summary_and_report_from_events(tmp_path):
    proc, results = _start_long_run(tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert not (results / "summary.json").exists()
    rebuilt = subprocess.run([sys.executable, "-m", "perf_tests", "report", str(results)], cwd=REPO,
                             capture_output=True, text=True, timeout=120, check=False)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "rebuilt" in rebuilt.stdout and "report.html" in rebuilt.stdout
    summary = json.loads((results / "summary.json").read_text())
    assert validate_summary(summary) == []
    assert summary["rebuilt_from_events"] is True and summary["interrupted"] is True
    assert summary["targets"]["kfp"]["kind"] == "embedded-kfp-simulator"  # from run.json
    part = summary["scenarios"][0]
    assert part["name"] == "PIPELINE_RUN#0" and part["status"] == "interrupted"
    assert part["operations"]["create_run"]["count"] >= 1
    assert part["thresholds"][0]["threshold"] == "p95(create_run) < 30s"
    assert "rebuilt from events.jsonl" in (results / "report.html").read_text()
