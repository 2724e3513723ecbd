"""The one stop signal of the framework: a ``StopToken`` is set once, from any thread, with a reason.

The session's abort (Ctrl-C, SIGTERM, a full disk), each runner's stop, the load engine's, an LLM
executor's and a Tekton load's PipelineRuns are all tokens. A token is

- set from any thread (``set(reason)``; the first reason wins and later calls change nothing),
- waited on in a thread (``wait(timeout, clock=...)``, on the run's clock so a fake clock drives it),
- awaited on any event loop (``await wait_async(timeout, clock=...)``; each waiter is woken on its own
  loop with ``call_soon_threadsafe``, so one token serves several loops and threads at once),
- observed (``add_callback``: called once, in the thread that sets the token, or at once if it is set),
- chained (``follow(parent)``: set with the parent's reason when the parent is set).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perf_tests.scheduler.clock import Cancellable, Clock

__all__ = ["ABORTED", "END", "STOPPED", "StopToken"]

logger = logging.getLogger(__name__)

STOPPED = "stopped"
"""The default reason: asked to stop."""
END = "end"
"""The scheduler stopped an entry at its end time."""
ABORTED = "aborted"
"""The test run was aborted (Ctrl-C, SIGTERM, a results file that cannot be written)."""


class StopToken:
    """Set once with a reason; waitable in threads, awaitable on event loops (see the module docstring)."""

    __slots__ = ("_callbacks", "_event", "_lock", "_next_id", "_reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next_id = 0

    def __repr__(self) -> str:
        return f"StopToken(reason={self._reason!r})"

    def set(self, reason: str = STOPPED) -> bool:
        """Stop with ``reason``; thread-safe, returns at once. True when this call stopped it."""
        with self._lock:
            if self._reason is not None:
                return False
            self._reason = reason
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        self._event.set()
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one observer's failure must not keep the signal from the others
                logger.exception("a stop callback failed")
        return True

    def is_set(self) -> bool:
        """True once stopped."""
        return self._event.is_set()

    @property
    def reason(self) -> str | None:
        """Why it was stopped (the first ``set``'s reason); None while it is not."""
        return self._reason

    @property
    def event(self) -> threading.Event:
        """A ``threading.Event`` set together with the token (for ``Clock.wait``)."""
        return self._event

    def add_callback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` once when the token is set (now, in this thread, if it is); returns a function
        that removes it. The callback runs in the setting thread: it must be quick and thread-safe."""
        with self._lock:
            if self._reason is None:
                key = self._next_id
                self._next_id += 1
                self._callbacks[key] = callback
                return lambda: self._remove(key)
        callback()
        return _nothing

    def _remove(self, key: int) -> None:
        with self._lock:
            self._callbacks.pop(key, None)

    def follow(self, parent: StopToken) -> Callable[[], None]:
        """Be set, with its reason, when ``parent`` is set; returns a function that unlinks them."""
        def pass_on() -> None:
            self.set(parent.reason or STOPPED)

        return parent.add_callback(pass_on)

    def wait(self, timeout: float | None = None, clock: Clock | None = None) -> bool:
        """Block this thread until stopped (True) or ``timeout`` seconds on ``clock`` pass (False)."""
        if clock is None:
            return self._event.wait(timeout)
        return clock.wait(self._event, timeout)

    async def wait_async(self, timeout: float | None = None, clock: Clock | None = None) -> bool:
        """Wait on the running loop until stopped (True) or ``timeout`` seconds on ``clock`` pass (False).

        A future and a timer, not ``asyncio.wait_for`` (a task per wait): a thousand runs each sleep
        between polls, and this is what most of them are doing most of the time.
        """
        if self._event.is_set():
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake_threadsafe() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
                loop.call_soon_threadsafe(_wake, waiter)

        remove = self.add_callback(wake_threadsafe)
        timer: Cancellable | None = None
        if timeout is not None:
            delay = max(0.0, timeout)
            timer = (clock.source.call_later(loop, delay, lambda: _wake(waiter), until=self._event)
                     if clock is not None else loop.call_later(delay, _wake, waiter))
        try:
            await waiter
        finally:
            remove()
            if timer is not None:
                timer.cancel()
        return self._event.is_set()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _nothing() -> None:
    """Nothing to remove."""
