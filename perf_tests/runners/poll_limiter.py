"""A rate cap whose waiters are served in arrival order and cost nothing while they wait.

``PollLimiter`` is aiolimiter's leaky bucket (up to ``rate`` acquisitions in any second, one timer for
the whole bucket) behind an ``asyncio.Lock``. The lock is what makes it fair: asyncio's lock hands
itself to its waiters first in, first out and never lets a newcomer overtake them, so only the task at
the head of the line waits inside the bucket; every other waiter is a parked future that no timer
wakes. (asyncio-throttle, used before, woke every waiter every 10 ms and let any of them win: 1,000 runs
waiting for a poll slot were 100,000 wake-ups a second, and some runs waited far longer than others.)
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiolimiter import AsyncLimiter

__all__ = ["PollLimiter"]


class PollLimiter:
    """At most ``rate`` acquisitions per second (bursts up to ``burst``, by default ``rate``), granted in
    arrival order.

    Use ``async with limiter:``; bind it to one event loop (create it inside the loop that uses it).
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.rate = rate
        # By default a second's worth (at least one, so that a rate under 1/s works) may go at once.
        capacity = max(1.0, rate) if burst is None else burst
        if not capacity >= 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self._bucket = AsyncLimiter(capacity, capacity / rate)
        self._line = asyncio.Lock()
        self.waiting = 0  # tasks in acquire() now

    async def acquire(self) -> None:
        """Wait for this task's turn, then for a slot in the bucket."""
        self.waiting += 1
        try:
            async with self._line:
                await self._bucket.acquire()
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
