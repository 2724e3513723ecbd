"""One shard of an open-loop schedule: arrivals ``index, index + count, index + 2*count, ...`` of it.

Every shard walks the same schedule (the same seed for poisson) and keeps every ``count``-th arrival, so
the union of the shards is exactly the one schedule: for a constant rate, shard ``i`` of ``N`` sends at
``t0 + (k*N + i) / rate``; stair-steps and ramps split the same way, without a burst at any edge.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from perf_tests.load.arrivals import ArrivalModel, ConcurrentArrivals, ScheduledArrivals

__all__ = ["ShardedArrivals", "shard_arrivals"]


class ShardedArrivals(ScheduledArrivals):
    """Arrivals ``index::count`` of ``inner``'s schedule."""

    def __init__(self, inner: ScheduledArrivals, index: int, count: int) -> None:
        super().__init__(inner.duration)
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"shard {index}/{count}: the index must be from 0 to count-1")
        self.inner = inner
        self.index = index
        self.count = count
        self.kind = inner.kind  # type: ignore[misc]  # the same kind of schedule, split

    def offsets(self) -> Iterator[float]:
        return itertools.islice(self.inner.offsets(), self.index, None, self.count)

    def planned(self) -> int | None:
        total = self.inner.planned()
        if total is None:
            return None
        return max(0, math.ceil((total - self.index) / self.count))

    def expected(self, until: float) -> float:
        return self.inner.expected(until) / self.count

    def describe(self) -> str:
        return f"{self.inner.describe()}, shard {self.index}/{self.count} (every {self.count}th arrival)"


def shard_arrivals(arrivals: ArrivalModel, index: int, count: int) -> ArrivalModel:
    """The shard's part of ``arrivals``: a split schedule (open loop); a closed loop is split by the
    entry's ``concurrency`` instead (see ``perf_tests.scaleout.plan``), so it is returned as it is."""
    if count == 1 or isinstance(arrivals, ConcurrentArrivals) or not isinstance(arrivals, ScheduledArrivals):
        return arrivals
    return ShardedArrivals(arrivals, index, count)
