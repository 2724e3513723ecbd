"""The window line between an executor and the launcher, and reading GuideLLM's logs."""

from __future__ import annotations

from perf_tests.llm.process.diagnostics import failure_reason, hold_report, progress_line
from perf_tests.llm.process.startup import MARK, parse_window_line, window_line


def test_window_line_round_trip() -> None:
    assert parse_window_line(window_line(1795452795.25, 1795452803.5)) == (1795452795.25, 1795452803.5)
    assert parse_window_line("") is None  # end of input: no window
    assert parse_window_line("window 5 4") is None
    assert parse_window_line("start 1 2") is None


CLICK_ERROR = """Usage: guidellm run [OPTIONS]
Try 'guidellm run --help' for help.
Error: Invalid value for '--profile':
  - Field required (at 'profile.throughput.max_concurrency')
"""

TRACEBACK = """Traceback (most recent call last):
  File "/x/guidellm/backends/openai/http.py", line 145, in validate
    raise RuntimeError(
guidellm.data.schemas.base.DataNotSupportedError: Unsupported data for JSONFileDatasetDeserializer, got x.json
"""


def test_failure_reason_is_one_actionable_line() -> None:
    assert failure_reason(CLICK_ERROR) == (
        "Error: Invalid value for '--profile': - Field required (at 'profile.throughput.max_concurrency')")
    assert failure_reason(TRACEBACK) == (
        "DataNotSupportedError: Unsupported data for JSONFileDatasetDeserializer, got x.json")
    no_load = f"{TRACEBACK}{MARK} error: GuideLLM was ready after its window; no load was sent\n"
    assert failure_reason(no_load) == "GuideLLM was ready after its window; no load was sent"
    assert failure_reason("") == ""


def test_progress_and_hold_lines() -> None:
    log = (
        "26-11-23 16:46:11|INFO     |guidellm.benchmark.progress:_log_update:420 - Benchmark 1 (constant@5.00): "
        "started | elapsed=0.0s | successful=0\n"
        f"{MARK} ready at 100.5; holding until 110.0 (9.5s early)\n"
    )
    assert progress_line(log) == "Benchmark 1 (constant@5.00): started | elapsed=0.0s | successful=0"
    hold = hold_report(log)
    assert hold is not None and (hold.ready_at, hold.early, hold.late) == (100.5, 9.5, 0.0)
    late = hold_report(f"{MARK} ready at 100.0; starting at 100.0, 2.500s late\n")
    assert late is not None and late.late == 2.5
    assert hold_report("nothing") is None
