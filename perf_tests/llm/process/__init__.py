"""GuideLLM as a child process: started, held until its load window, watched and stopped.

- ``launcher``: ``python -m perf_tests.llm.process.launcher``, GuideLLM's own CLI held until its start
  time, with ``patches`` (what it changes in GuideLLM 0.8), ``masking`` (secrets masked in its output) and
  ``backend_secrets`` (the entry's secret ``--backend`` keys from the environment, never on a command line).
- ``startup``: the contract between an executor and the launcher (``ready``, ``window``, exit codes).
- ``children``: child processes that never outlive the test run (process groups, ``atexit`` kill).
- ``diagnostics``: reading a GuideLLM log (progress, start hold, the one-line failure reason).

Importing this package starts nothing and patches nothing; the launcher is not imported here.
"""

from perf_tests.llm.process.children import (
    LAUNCHER,
    ChildProcess,
    kill_all_children,
    launcher_argv,
    live_children,
    log_tail,
)
from perf_tests.llm.process.diagnostics import HoldReport, failure_reason, hold_report, progress_line
from perf_tests.llm.process.startup import parse_window_line, window_line

__all__ = [
    "LAUNCHER",
    "ChildProcess",
    "HoldReport",
    "failure_reason",
    "hold_report",
    "kill_all_children",
    "launcher_argv",
    "live_children",
    "log_tail",
    "parse_window_line",
    "progress_line",
    "window_line",
]
