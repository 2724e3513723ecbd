"""A real GuideLLM against a real mock server, offline, for a few seconds: what the framework records is
what GuideLLM measured, the load starts on the shared clock, and a GuideLLM failure is one clear line.

One scenario run (three entries at once, ~1 minute on 2 cores) serves every test of the module:

- ``constant``: 10 req/s for 6 s against the session's mock server, with the session's tokenizer;
- ``embedded``: no targetUrl (the embedded mock), concurrent streams over prompts.jsonl, the default
  tokenizer built in the results folder;
- ``bad-tokenizer``: a tokenizer folder whose tokenizer.json is not a tokenizer (it passes the loader's
  file check; GuideLLM fails on it);
- ``matrix``: ``{"rate": [2, 4]}``, two entries one after the other, each with its own results;
- ``later``: starts at 30 s with a 25-s startup lead, so GuideLLM is launched during the run (not before
  t0) and told its window when launched; 10 s of load, since on a loaded 2-core machine it was measured
  starting up to 4 s late (a 4-s window then left GuideLLM no request to report, and no report).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from llm_harness import LlmRun, run_entries

from perf_tests.llm.mock_server import MockServer
from perf_tests.llm.process.children import live_children
from perf_tests.llm.process.diagnostics import hold_report
from perf_tests.llm.results.recording import entry_results_dir
from perf_tests.llm.results.universal_report import validate_universal_report

pytestmark = [pytest.mark.llm, pytest.mark.slow]

RUN_SECONDS = 6.0
RATE = 10.0


@pytest.fixture(scope="module")
def run(mock_target: MockServer, tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> LlmRun:
    results_dir = tmp_path_factory.mktemp("llm-run")
    bad_tokenizer = results_dir / "bad-tokenizer"
    bad_tokenizer.mkdir()
    (bad_tokenizer / "tokenizer.json").write_text('{"not": "a tokenizer"}', encoding="utf-8")
    common: dict[str, Any] = {"mode": "LLM_LOAD", "startTime": 0, "runTime": f"{RUN_SECONDS}s", "workers": 1}
    return run_entries(
        [
            {**common, "name": "constant", "targetUrl": mock_target.url, "tokenizer": str(tokenizer_dir),
             "rateType": "constant", "rate": RATE, "promptTokens": 32, "outputTokens": 16, "workers": 2,
             "thresholds": ["p99(ttft) < 5s", "success_rate(requests) >= 0.99"]},
            {**common, "name": "embedded", "rateType": "concurrent", "rate": 2, "dataFile": "prompts.jsonl",
             "mockServer": {"ttftMs": 10, "itlMs": 1, "outputTokens": 8}},
            {**common, "name": "bad-tokenizer", "targetUrl": mock_target.url, "tokenizer": str(bad_tokenizer),
             "rate": 1},
            {**common, "name": "matrix", "runTime": "4s", "targetUrl": mock_target.url,
             "tokenizer": str(tokenizer_dir), "rate": 1, "promptTokens": 16, "outputTokens": 8,
             "matrix": {"rate": [2, 4]}},
            {**common, "name": "later", "startTime": "30s", "runTime": "10s", "startupLead": "25s",
             "targetUrl": mock_target.url, "tokenizer": str(tokenizer_dir), "rate": 2, "promptTokens": 16,
             "outputTokens": 8},
        ],
        results_dir,
    )


def guidellm_json(run: LlmRun, entry: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (entry_results_dir(run.results_dir, entry) / "guidellm.json").read_text(encoding="utf-8"))
    return data


def test_metrics_are_guidellms_own(run: LlmRun) -> None:
    assert run.results["constant"].ok, run.results["constant"].error
    report = guidellm_json(run, "constant")["benchmarks"][0]["metrics"]
    record = run.recorder.scenarios["constant"]
    totals = report["request_totals"]
    requests = record.external["requests"]
    assert (requests["ok"], requests["failed"], requests["incomplete"]) == (
        totals["successful"], totals["errored"], totals["incomplete"])
    assert record.external["request_latency"]["p50_ms"] == pytest.approx(
        report["request_latency"]["successful"]["percentiles"]["p50"] * 1000)
    assert record.external["ttft"]["p50_ms"] == pytest.approx(
        report["time_to_first_token_ms"]["successful"]["percentiles"]["p50"])
    assert record.external["itl"]["p50_ms"] == pytest.approx(
        report["inter_token_latency_ms"]["successful"]["percentiles"]["p50"])
    assert record.external["request_scheduled_latency"]["p99_ms"] == pytest.approx(
        report["request_scheduled_latency"]["successful"]["percentiles"]["p99"] * 1000)
    assert requests["throughput"] == pytest.approx(report["requests_per_second"]["successful"]["mean"])
    # GuideLLM sent what we asked for, 10 req/s for 6 s (on a busy 2-core machine the mock answers some of
    # them only after the load ended: those are incomplete, not failed)
    assert totals["total"] == pytest.approx(RATE * RUN_SECONDS, rel=0.1)
    assert requests["success_rate"] == 1.0
    # every request is replayed as llm_request, with its lateness behind the schedule
    stream = record.operations["llm_request"]
    assert stream.ok == totals["successful"]
    assert "lateness" in stream.values


def test_load_starts_at_its_start_time_on_the_shared_clock(run: LlmRun) -> None:
    state = guidellm_json(run, "constant")["benchmarks"][0]["scheduler_state"]
    planned = run.context.clock.wall_at(0.0)
    assert state["start_time"] == pytest.approx(planned, abs=0.5)
    first = min(r["info"]["timings"]["targeted_start"]
                for r in guidellm_json(run, "constant")["benchmarks"][0]["requests"]["successful"])
    assert first == pytest.approx(planned + 1 / RATE, abs=0.5)
    record = run.recorder.scenarios["constant"]
    assert not [note for note in record.notes if "after its planned start" in note]
    hold = hold_report((entry_results_dir(run.results_dir, "constant") / "guidellm.log").read_text(encoding="utf-8"))
    assert hold is not None  # GuideLLM was ready before t0 and was then given its window
    assert hold.ready_at < planned + 0.5 and hold.late < 0.5


def test_files_and_universal_report(run: LlmRun) -> None:
    for entry in ("constant", "embedded", "later"):
        folder = entry_results_dir(run.results_dir, entry)
        for name in ("command.txt", "guidellm.json", "guidellm.log", "metrics.json", "benchmark_report.yaml",
                     "benchmark_report.json"):
            assert (folder / name).is_file(), f"{entry}/{name}"
        universal = json.loads((folder / "benchmark_report.json").read_text(encoding="utf-8"))
        assert validate_universal_report(universal) == []
        assert universal["run"]["eid"] == run.context.run_id
    constant = json.loads((entry_results_dir(run.results_dir, "constant") / "benchmark_report.json").read_text())
    aggregate = constant["results"]["request_performance"]["aggregate"]
    record = run.recorder.scenarios["constant"]
    assert aggregate["latency"]["time_to_first_token"]["p50"] == pytest.approx(
        record.external["ttft"]["p50_ms"] / 1000)
    assert constant["scenario"]["load"]["standardized"]["rate_qps"] == RATE
    command = (entry_results_dir(run.results_dir, "constant") / "command.txt").read_text(encoding="utf-8")
    assert "guidellm run --backend kind=openai_http,target=http://127.0.0.1:" in command


def test_embedded_mock_target_and_data_file(run: LlmRun) -> None:
    assert run.results["embedded"].ok, run.results["embedded"].error
    record = run.recorder.scenarios["embedded"]
    assert "(not a real model server)" in record.attrs["target"]
    assert record.attrs["target"].startswith("guidellm mock-server at http://127.0.0.1:")
    universal = json.loads((entry_results_dir(run.results_dir, "embedded") / "benchmark_report.json").read_text())
    load = universal["scenario"]["load"]["standardized"]
    assert load["source"] == "sampled" and load["concurrency"] == 2
    assert record.external["requests"]["ok"] > 0
    assert (run.results_dir / "llm-cache" / "tokenizers").is_dir()  # the default tokenizer was built there


def test_matrix_combinations_run_one_after_another_with_their_own_results(run: LlmRun) -> None:
    for name, rate, start in (("matrix[rate=2]", 2, 0.0), ("matrix[rate=4]", 4, 4.0)):
        assert run.results[name].ok, run.results[name].error
        folder = entry_results_dir(run.results_dir, name)
        assert folder.name == f"matrix_rate_{rate}"
        report = json.loads((folder / "guidellm.json").read_text(encoding="utf-8"))["benchmarks"][0]
        assert report["scheduler_state"]["start_time"] == pytest.approx(run.context.clock.wall_at(start), abs=0.5)
        assert report["metrics"]["request_totals"]["total"] == pytest.approx(rate * 4, abs=1)
        universal = json.loads((folder / "benchmark_report.json").read_text(encoding="utf-8"))
        assert universal["scenario"]["load"]["standardized"]["rate_qps"] == rate
        assert run.recorder.scenarios[name].external["requests"]["count"] > 0


def test_a_later_entry_is_launched_during_the_run_and_starts_on_time_or_says_so(run: LlmRun) -> None:
    assert run.results["later"].ok, run.results["later"].error
    folder = entry_results_dir(run.results_dir, "later")
    state = json.loads((folder / "guidellm.json").read_text(encoding="utf-8"))["benchmarks"][0]["scheduler_state"]
    planned = run.context.clock.wall_at(30.0)
    late = state["start_time"] - planned
    assert late > -0.5  # never early
    assert state["end_time"] <= run.context.clock.wall_at(40.0) + 5  # the window's end holds even after a late start
    notes = [note for note in run.recorder.scenarios["later"].notes if "after its planned start" in note]
    assert bool(notes) == (late > 0.5), (late, notes)  # on a busy machine GuideLLM may need more than 25 s


def test_guidellm_failure_is_one_clear_line(run: LlmRun) -> None:
    result = run.results["bad-tokenizer"]
    assert not result.ok and result.error is not None
    assert result.error.startswith("guidellm: GuideLLM exited with code 1: ")
    assert "Traceback" not in result.error and "\n" not in result.error
    assert "(log: " in result.error and result.error.endswith("bad-tokenizer/guidellm.log)")


def test_no_child_process_is_left_behind(run: LlmRun, mock_target: MockServer) -> None:
    """Only the session's own mock server is still running; every process of the run is gone."""
    assert [child.pid for child in live_children()] == [mock_target.pid]
    assert [pid for pid in processes_started_by_this_test() if _group(pid) != mock_target.pid] == []


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def processes_started_by_this_test() -> list[int]:
    """Processes (GuideLLM, its workers, mock servers) whose environment names this test process as parent."""
    marker = f"PERF_TESTS_PARENT_PID={os.getpid()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found
