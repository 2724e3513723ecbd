"""Ctrl-C and SIGTERM during a run: the first asks every runner to stop and the run to write its
results; a second exits at once."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["graceful_interrupts"]

logger = logging.getLogger(__name__)
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def graceful_interrupts(abort: threading.Event) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM set ``abort``; a second signal exits the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if abort.is_set():
            logger.error("second interrupt: exiting at once; results may be incomplete")
            os._exit(EXIT_INTERRUPTED)
        abort.set()
        logger.warning(
            "%s: stopping every scenario, cancelling what the run started and writing results "
            "(press Ctrl-C again to exit at once)",
            signal.Signals(signum).name,
        )

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
