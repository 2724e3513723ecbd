"""The contract between an executor and ``perf_tests.llm.process.launcher``: when a held GuideLLM run starts.

An executor launches GuideLLM ahead of its load window (it needs 10-20 s to start) as a *controlled*
process. When GuideLLM has done everything but start (imports, worker processes, data), the launcher
writes ``ready <epoch>`` to the pipe named by ``READY_FD_ENV`` and reads one line from its standard
input: ``window <start epoch> <end epoch>`` (``window_line``). It then holds until the start, ends the
load at the end, and reports on its output in lines beginning with ``MARK``. End of input (the test run
ended, or stopped before the start) means no load: the launcher exits with ``NO_LOAD_EXIT``.
Kept apart from the launcher so that importing ``perf_tests.llm`` never imports the launcher, which runs
as ``python -m perf_tests.llm.process.launcher``.
"""

from __future__ import annotations

__all__ = ["MARK", "NO_LOAD_EXIT", "PARENT_PID_ENV", "READY_FD_ENV", "REQUESTS_ENV", "parse_window_line",
           "window_line"]

READY_FD_ENV = "PERF_TESTS_READY_FD"
REQUESTS_ENV = "PERF_TESTS_REQUESTS_FILE"
"""Where the launcher appends one JSON line per finished request, as GuideLLM learns of it
(``perf_tests.llm.results.live`` reads it while the load runs)."""
PARENT_PID_ENV = "PERF_TESTS_PARENT_PID"
MARK = "perf-tests:"
NO_LOAD_EXIT = 3
"""The launcher's exit code when no load was sent (no window, or ready only after the window)."""


def window_line(start_at: float, end_at: float) -> str:
    """The line that gives a held GuideLLM run its load window."""
    return f"window {start_at:.6f} {end_at:.6f}\n"


def parse_window_line(line: str) -> tuple[float, float] | None:
    """``(start, end)`` from a ``window_line``; None for anything else (end of input included)."""
    words = line.split()
    if len(words) != 3 or words[0] != "window":
        return None
    try:
        start, end = float(words[1]), float(words[2])
    except ValueError:
        return None
    return (start, end) if end > start else None
