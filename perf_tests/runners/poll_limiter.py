"""A rate cap whose waiters are served in arrival order, cost nothing while they wait, and run on the run clock.

``PollLimiter`` is a leaky bucket (up to ``rate`` acquisitions in any second, bursts up to ``burst``)
behind an ``asyncio.Lock``. The lock is what makes it fair: asyncio's lock hands itself to its waiters
first in, first out and never lets a newcomer overtake them, so only the task at the head of the line
waits for the bucket, on one timer of the run clock (``perf_tests.scheduler.clock``); every other waiter
is a parked future that no timer wakes. (asyncio-throttle, used before, woke every waiter every 10 ms and
let any of them win: 1,000 runs waiting for a poll slot were 100,000 wake-ups a second, and some runs
waited far longer than others. aiolimiter, used next, reads the event loop's time, so a fake run clock
could not drive it.)
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from perf_tests.scheduler.clock import SYSTEM_TIME, Clock

__all__ = ["PollLimiter"]

# Leaking is float arithmetic: a level this close to the brim counts as below it (else the head of the
# line would set a second, near-zero timer after waking exactly on time).
_SLACK = 1e-9


class PollLimiter:
    """At most ``rate`` acquisitions per second (bursts up to ``burst``, by default ``rate``), granted in
    arrival order, timed on ``clock`` (by default the real time).

    Use ``async with limiter:``; bind it to one event loop (create it inside the loop that uses it).
    """

    def __init__(self, rate: float, burst: float | None = None, clock: Clock | None = None) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.rate = rate
        # By default a second's worth (at least one, so that a rate under 1/s works) may go at once.
        capacity = max(1.0, rate) if burst is None else burst
        if not capacity >= 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self._capacity = capacity
        self._clock = clock if clock is not None else Clock(SYSTEM_TIME)
        self._level = 0.0  # acquisitions still in the bucket
        self._checked = self._clock.monotonic()
        self._line = asyncio.Lock()
        self.waiting = 0  # tasks in acquire() now

    def _leak(self) -> None:
        """Drain the bucket by what ``rate`` let out since the last look."""
        now = self._clock.monotonic()
        self._level = max(0.0, self._level - (now - self._checked) * self.rate)
        self._checked = now

    async def acquire(self) -> None:
        """Wait for this task's turn, then for a slot in the bucket."""
        self.waiting += 1
        try:
            async with self._line:
                self._leak()
                while (excess := self._level + 1 - self._capacity) > _SLACK:
                    await self._clock.sleep(excess / self.rate)
                    self._leak()
                self._level += 1
        finally:
            self.waiting -= 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
