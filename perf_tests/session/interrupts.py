"""Ctrl-C and SIGTERM during a run: the first asks every runner to stop and the run to write its
results; a second exits at once, saying whether the results are complete or how to rebuild them.

The session installs the handlers for its whole run (target check, set-up, load, clean-up and writing the
results), so no phase is left to Python's default handling (a ``KeyboardInterrupt`` traceback, or death by
SIGTERM with nothing written).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from perf_tests.scheduler.stop import StopToken

__all__ = ["EXIT_INTERRUPTED", "graceful_interrupts"]

logger = logging.getLogger(__name__)
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def graceful_interrupts(abort: StopToken, results_state: Callable[[], str] | None = None) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM set ``abort`` (the reason names the signal); a second signal exits
    the process at once.

    ``results_state`` (called on that second signal) tidies up and returns one sentence on what the
    results directory holds, e.g. how to rebuild the summary.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if abort.is_set():
            state = ""
            if results_state is not None:
                try:
                    state = results_state()
                except Exception as exc:  # never let a report on the results stop the exit
                    state = f"(could not check the results: {exc})"
            # Straight to stderr: the log files may be what a full disk is refusing.
            with contextlib.suppress(Exception):
                sys.stderr.write(f"second interrupt: exiting at once. {state}".rstrip() + "\n")
                sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        name = signal.Signals(signum).name
        abort.set(f"interrupted ({name})")
        logger.warning(
            "%s: stopping every scenario, cancelling what the run started and writing results "
            "(press Ctrl-C again to exit at once)",
            name,
        )

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
