"""Constant-rate arrivals on an absolute schedule: arrival ``i`` is due at ``i / rate`` seconds.

Computing every due time from the start, instead of sleeping ``1 / rate`` after each send, keeps the
achieved rate exact: a sleep-based loop adds the time it takes to send and to wake up to every gap
(it loses about a fifth of the rate at 500/s).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from perf_tests.load.arrivals.arrival import ScheduledArrivals

__all__ = ["ConstantArrivals"]


class ConstantArrivals(ScheduledArrivals):
    """``rate`` arrivals per second, evenly spaced, the first at offset 0."""

    kind = "constant"

    def __init__(self, rate: float, duration: float | None = None) -> None:
        super().__init__(duration)
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        self.rate = rate

    def offsets(self) -> Iterator[float]:
        rate = self.rate
        if self.duration is None:
            return (i / rate for i in itertools.count())
        return (i / rate for i in range(math.ceil(self.duration * rate)))

    def planned(self) -> int | None:
        return None if self.duration is None else math.ceil(self.duration * self.rate)

    def expected(self, until: float) -> float:
        return float(math.ceil(until * self.rate)) if until > 0 else 0.0

    def describe(self) -> str:
        return f"constant {self.rate:g}/s"
