"""A time source for tests: time stands still until the test moves it, so timings are exact.

``FakeTime`` is a ``TimeSource`` (``perf_tests.scheduler.clock``): ``Clock(FakeTime())`` is a run clock
on which the scheduler and the runners wait as they do on the real one. Threads wait on it with
``wait(event, timeout)``, event loops through ``call_later`` timers. A waiter is *blocked* while its
deadline lies ahead and its event is not set; a thread is *busy* from the moment a wait of its returns
(or is about to: its deadline came or its event is set; or a timer of its loop fires or is cancelled)
until it waits again, sets a timer or ends.

A test moves time with ``step(blocked)``: wait (in real time, bounded) until no thread is busy and
exactly ``blocked`` waiters are blocked, then jump to the earliest deadline, so each woken thread reads
exactly its deadline (clockwork's ``BlockUntil`` + ``Advance``, trio's ``MockClock``). ``advance`` moves
time without waiting. A loop thread counts as busy from a timer's firing until it sets its next timer
or waits: drive loops whose tasks keep sleeping on the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["FakeTime"]

_POLL = 0.005  # real seconds: how soon a thread waiting on the fake clock sees its event set


@dataclass(eq=False)
class _Waiter:
    """A thread in ``wait`` or a loop timer: blocked until ``deadline`` (None: no deadline)."""

    deadline: float | None
    thread: threading.Thread
    event: threading.Event | None = None
    fire: Callable[[], None] | None = None  # a loop timer's call

    def blocked(self, now: float) -> bool:
        if self.event is not None and self.event.is_set():
            return False
        return self.deadline is None or self.deadline > now


class _FakeTimer:
    """The handle ``FakeTime.call_later`` returns."""

    def __init__(self, source: FakeTime, waiter: _Waiter) -> None:
        self._source, self._waiter = source, waiter

    def cancel(self) -> None:
        self._source._forget(self._waiter)


class FakeTime:
    """A deterministic, advanceable time source (see the module docstring)."""

    def __init__(self, start: float = 1000.0, wall_start: float = 1_767_225_600.0) -> None:
        self._now = start
        self.wall_offset = wall_start - start
        self._cond = threading.Condition()
        self._waiters: list[_Waiter] = []
        self._busy: set[threading.Thread] = set()
        self.monotonic: Callable[[], float] = self._read

    def _read(self) -> float:
        return self._now

    # -- the TimeSource side --------------------------------------------------------------------------
    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        thread = threading.current_thread()
        with self._cond:
            if event.is_set():
                return True
            if timeout is not None and timeout <= 0:
                return False
            waiter = _Waiter(None if timeout is None else self._now + timeout, thread, event)
            self._waiters.append(waiter)
            self._busy.discard(thread)
            self._cond.notify_all()
            try:
                while not event.is_set():
                    if waiter.deadline is not None and self._now >= waiter.deadline:
                        return False
                    self._cond.wait(_POLL)
                return True
            finally:
                self._waiters.remove(waiter)
                self._busy.add(thread)
                self._cond.notify_all()

    def call_later(
        self, loop: asyncio.AbstractEventLoop, delay: float, callback: Callable[[], Any],
        until: threading.Event | None = None,
    ) -> _FakeTimer:
        thread = threading.current_thread()

        def fire() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(callback)

        with self._cond:
            waiter = _Waiter(self._now + max(0.0, delay), thread, until, fire)
            self._waiters.append(waiter)
            self._busy.discard(thread)
            self._cond.notify_all()
        return _FakeTimer(self, waiter)

    def _forget(self, waiter: _Waiter) -> None:
        with self._cond:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            self._busy.add(threading.current_thread())  # it cancels a timer: it is running
            self._cond.notify_all()

    # -- the test's side ------------------------------------------------------------------------------
    def blocked(self) -> int:
        """Threads and timers waiting for a time that has not come (with their event not set)."""
        with self._cond:
            return self._blocked()

    def _blocked(self) -> int:
        return sum(1 for waiter in self._waiters if waiter.blocked(self._now))

    def _any_busy(self) -> bool:
        """A thread runs, or a waiter is about to wake (its deadline came or its event is set)."""
        self._busy = {thread for thread in self._busy if thread.is_alive()}
        return bool(self._busy) or any(not waiter.blocked(self._now) for waiter in self._waiters)

    def next_deadline(self) -> float | None:
        """The earliest deadline of a blocked waiter; None when none has one."""
        with self._cond:
            deadlines = [w.deadline for w in self._waiters if w.deadline is not None and w.blocked(self._now)]
        return min(deadlines) if deadlines else None

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``; waiters whose deadline came wake up."""
        if seconds < 0:
            raise ValueError(f"time only moves forward, not by {seconds}")
        self.advance_to(self._now + seconds)

    def advance_to(self, monotonic: float) -> None:
        """Move time forward to the monotonic reading ``monotonic`` (never back)."""
        with self._cond:
            self._now = max(self._now, monotonic)
            due = [w for w in self._waiters if w.fire is not None and w.deadline is not None
                   and w.deadline <= self._now]
            for waiter in due:
                self._waiters.remove(waiter)
                self._busy.add(waiter.thread)  # the loop runs the timer's callback
            self._cond.notify_all()
        for waiter in sorted(due, key=lambda w: w.deadline or 0.0):
            assert waiter.fire is not None
            waiter.fire()

    def wait_blocked(self, count: int | Callable[[], int], timeout: float = 10.0,
                     stop_when: Callable[[], bool] | None = None) -> bool:
        """Wait (real time, at most ``timeout`` s) until no thread is busy and ``count`` waiters are
        blocked (a function: re-read while waiting, e.g. the threads still alive); False when
        ``stop_when()`` became true first."""
        give_up = time.monotonic() + timeout
        with self._cond:
            while True:
                if stop_when is not None and stop_when():
                    return False
                expected = count() if callable(count) else count
                if not self._any_busy() and self._blocked() == expected:
                    return True
                left = give_up - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {expected} blocked waiters and no busy thread at {self._now}; blocked: "
                        f"{self._blocked()}, busy: {sorted(t.name for t in self._busy)}"
                    )
                self._cond.wait(min(left, _POLL))

    def step(self, blocked: int | Callable[[], int], timeout: float = 10.0,
             stop_when: Callable[[], bool] | None = None) -> float | None:
        """When no thread is busy and ``blocked`` waiters are blocked, jump to the earliest deadline and
        return the new monotonic time; None when ``stop_when()`` became true first."""
        if not self.wait_blocked(blocked, timeout, stop_when):
            return None
        deadline = self.next_deadline()
        if deadline is None:
            raise AssertionError(f"{self.blocked()} waiters are blocked and none has a deadline: nothing can "
                                 "happen")
        self.advance_to(deadline)
        return self._now
