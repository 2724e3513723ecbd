"""The contract between an executor and ``perf_tests.llm.launcher``: how a GuideLLM process learns its
load window and how it says what happened.

``START_AT_ENV`` and ``END_AT_ENV`` carry the window in epoch seconds; the launcher holds GuideLLM's
start until the first and ends its benchmarks at the second. Lines of the process's output that start
with ``MARK`` report the hold (``ready at ...; holding until ...`` or ``...s late``) or why there was no
load. Kept apart from the launcher so that importing ``perf_tests.llm`` never imports the launcher,
which runs as ``python -m perf_tests.llm.launcher``.
"""

from __future__ import annotations

__all__ = ["END_AT_ENV", "MARK", "NO_LOAD_EXIT", "PARENT_PID_ENV", "START_AT_ENV"]

START_AT_ENV = "PERF_TESTS_START_AT"
END_AT_ENV = "PERF_TESTS_END_AT"
PARENT_PID_ENV = "PERF_TESTS_PARENT_PID"
MARK = "perf-tests:"
NO_LOAD_EXIT = 3
"""The launcher's exit code when GuideLLM was ready only after its load window had ended."""
