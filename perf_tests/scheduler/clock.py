"""The one clock of a test run: every reading, wait, event, mark and the load engine go through it.

A ``TimeSource`` gives one reading, the monotonic time, and waits; wall-clock time (epoch seconds, for
records) is derived from that reading with one offset fixed when the source was made, so monotonic and
wall time cannot drift apart over a long nightly (an NTP step moves neither). ``SystemTime`` is the
real one; ``FakeTime`` (``perf_tests.scheduler.fake_clock``) is advanced by a test, so the scheduler and
the runners are tested exactly, without sleeps.

``Clock`` holds the run's t0 on that source. t0 is set by ``start()`` when every runner has prepared
(the scheduler calls it), so slow preparation (an upload, a tokenizer build) never shifts the planned
start times; before that, t0 is the clock's creation time. Entries' windows are offsets from t0.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

__all__ = ["SYSTEM_TIME", "Cancellable", "Clock", "SystemTime", "TimeSource"]


class Cancellable(Protocol):
    """A timer that can be cancelled (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None:
        """Do not fire."""


@runtime_checkable
class TimeSource(Protocol):
    """Where a clock reads the time and waits."""

    monotonic: Callable[[], float]
    """Seconds on a clock that never goes back (``time.monotonic`` for the real source)."""

    wall_offset: float
    """Epoch seconds minus ``monotonic()``: fixed, so wall time is one reading plus this offset."""

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Block until ``event`` is set (True) or ``timeout`` seconds of this source pass (False)."""
        ...

    def call_later(
        self, loop: asyncio.AbstractEventLoop, delay: float, callback: Callable[[], Any],
        until: threading.Event | None = None,
    ) -> Cancellable:
        """Call ``callback()`` on ``loop`` after ``delay`` seconds of this source; call from the loop.

        ``until``: the event that ends the wait this timer bounds (a fake source no longer counts the
        timer as blocked once it is set)."""
        ...


class SystemTime:
    """The real time: ``time.monotonic`` and ``threading.Event.wait``; wall time from one offset."""

    # A builtin, not a method: the load engine calls it per request.
    monotonic: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self.wall_offset = time.time() - time.monotonic()

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)

    def call_later(
        self, loop: asyncio.AbstractEventLoop, delay: float, callback: Callable[[], Any],
        until: threading.Event | None = None,
    ) -> Cancellable:
        return loop.call_later(delay, callback)


SYSTEM_TIME = SystemTime()
"""The process's real time source (one wall offset for every clock of the process)."""


class Clock:
    """t0 on one time source, as a monotonic reading (for waiting) and a wall time (for records)."""

    def __init__(self, source: TimeSource | None = None) -> None:
        # A fresh real source per run: its wall offset is measured at the run's start (child processes
        # such as GuideLLM compare our wall times with their own time.time()).
        self.source: TimeSource = source if source is not None else SystemTime()
        self.t0_monotonic = self.source.monotonic()
        # On the real time, asyncio's own sleep (a hot path: the load engine sleeps per arrival).
        self.sleep: Callable[[float], Coroutine[Any, Any, None]] = (
            asyncio.sleep if isinstance(self.source, SystemTime) else self._sleep_on_source)
        """``await clock.sleep(seconds)``: sleep that long on this clock, on the running loop."""

    def start(self) -> None:
        """Set t0 to now."""
        self.t0_monotonic = self.source.monotonic()

    @property
    def t0_wall(self) -> float:
        """t0 in epoch seconds."""
        return self.t0_monotonic + self.source.wall_offset

    @property
    def wall_offset(self) -> float:
        """Epoch seconds minus the monotonic reading (the same for every reading of this clock)."""
        return self.source.wall_offset

    def monotonic(self) -> float:
        """Now, on the monotonic clock (durations and deadlines)."""
        return self.source.monotonic()

    def wall_now(self) -> float:
        """Now in epoch seconds, derived from the monotonic reading so that it never jumps."""
        return self.source.monotonic() + self.source.wall_offset

    def wall_of(self, monotonic: float) -> float:
        """The epoch seconds of a monotonic reading of this clock."""
        return monotonic + self.source.wall_offset

    def monotonic_at(self, offset: float) -> float:
        """The monotonic time ``offset`` seconds after t0."""
        return self.t0_monotonic + offset

    def wall_at(self, offset: float) -> float:
        """The wall-clock time (epoch seconds) ``offset`` seconds after t0."""
        return self.t0_wall + offset

    def elapsed(self) -> float:
        """Seconds since t0."""
        return self.source.monotonic() - self.t0_monotonic

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Block until ``event`` is set (True) or ``timeout`` seconds pass on this clock (False)."""
        return self.source.wait(event, None if timeout is None else max(0.0, timeout))

    async def _sleep_on_source(self, delay: float) -> None:
        """One future and one timer of the source (a fake source counts the timer as blocked)."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.source.call_later(loop, max(0.0, delay), wake)
        try:
            await woken
        finally:
            timer.cancel()

    def wait_until(self, event: threading.Event, deadline: float) -> bool:
        """Block until ``event`` is set (True) or the monotonic ``deadline`` (False)."""
        return self.wait(event, deadline - self.source.monotonic())
