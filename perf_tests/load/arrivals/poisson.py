"""Poisson arrivals: exponential gaps with mean ``1 / rate``, summed on the same absolute clock.

Each due time is the previous due time plus a gap, never "now plus a gap", so the sender's own delays
do not lower the rate. A ``seed`` makes the schedule reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from perf_tests.load.arrivals.arrival import ScheduledArrivals

__all__ = ["PoissonArrivals"]


class PoissonArrivals(ScheduledArrivals):
    """A Poisson process of ``rate`` arrivals per second (the first after one random gap)."""

    kind = "poisson"

    def __init__(self, rate: float, duration: float | None = None, seed: int | None = None) -> None:
        super().__init__(duration)
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        self.rate = rate
        self.seed = seed

    def offsets(self) -> Iterator[float]:
        gap = random.Random(self.seed).expovariate
        rate = self.rate
        end = math.inf if self.duration is None else self.duration
        at = gap(rate)
        while at < end:
            yield at
            at += gap(rate)

    def expected(self, until: float) -> float:
        return until * self.rate if until > 0 else 0.0

    def describe(self) -> str:
        seed = f", seed {self.seed}" if self.seed is not None else ""
        return f"poisson {self.rate:g}/s{seed}"
