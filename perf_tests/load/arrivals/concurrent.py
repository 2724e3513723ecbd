"""Closed-loop arrivals: ``concurrency`` requests in flight, each sent as soon as the previous one ends.

This measures the most a server answers with that many clients, not how it behaves under a given
load: a slow server slows the sender down (coordinated omission), which is why the open-loop models
are the default.
"""

from __future__ import annotations

from perf_tests.load.arrivals.arrival import ArrivalModel

__all__ = ["ConcurrentArrivals"]


class ConcurrentArrivals(ArrivalModel):
    """``concurrency`` workers, each sending its next request when the last one is answered."""

    kind = "concurrent"

    def __init__(self, concurrency: int, duration: float | None = None) -> None:
        super().__init__(duration)
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
        self.concurrency = concurrency

    def describe(self) -> str:
        return f"concurrent {self.concurrency}"
