"""A rate that changes over time: a list of steps, each ``rate`` arrivals per second for ``duration``.

Stair-steps and warm-ups are one entry: ``[{rate: 0.5, duration: 60}, {rate: 1, duration: 60}, ...]``.
A step with ``ramp_to`` changes its rate linearly from ``rate`` to ``ramp_to`` over its duration.

Arrivals follow the rate profile's running total ``L(t)`` (the expected number of arrivals by ``t``):
arrival ``k`` is due when ``L(t)`` reaches ``k`` (``constant``) or the ``k``-th sum of unit exponential
gaps (``poisson``). So the schedule is absolute, a rate change is smooth (no burst at a step's edge)
and each step gets exactly its share of arrivals.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from perf_tests.load.arrivals.arrival import ScheduledArrivals

__all__ = ["Stage", "StagesArrivals"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One step: ``rate`` per second for ``duration`` seconds, ramping linearly to ``ramp_to`` if set."""

    rate: float
    duration: float
    ramp_to: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("rate", self.rate), ("ramp_to", self.ramp_to)):
            if value is not None and (not value >= 0 or math.isinf(value)):
                raise ValueError(f"a stage's {name} must be a number >= 0, got {value!r}")
        if not self.duration > 0 or math.isinf(self.duration):
            raise ValueError(f"a stage's duration must be greater than 0, got {self.duration!r}")

    @property
    def end_rate(self) -> float:
        """The rate at the end of the step."""
        return self.rate if self.ramp_to is None else self.ramp_to


@dataclass(frozen=True, slots=True)
class _Segment:
    start: float
    duration: float
    rate: float
    slope: float  # half the rate's change per second: L(start + s) = total + rate*s + slope*s*s
    total: float  # L(start)
    end_total: float  # L(start + duration)

    def time_at(self, level: float) -> float:
        """The offset at which the running total reaches ``level`` (``total <= level < end_total``)."""
        c = self.total - level
        if c >= 0:
            return self.start
        if self.slope == 0:
            into = -c / self.rate
        else:  # the root of slope*s^2 + rate*s + c = 0 in a form that is stable when slope is small
            into = -2 * c / (self.rate + math.sqrt(max(self.rate * self.rate - 4 * self.slope * c, 0.0)))
        return self.start + min(max(into, 0.0), self.duration)


class StagesArrivals(ScheduledArrivals):
    """Arrivals following a piecewise (constant or linearly ramping) rate; ``duration`` is the sum."""

    kind = "stages"

    def __init__(
        self,
        stages: Iterable[Stage],
        process: Literal["constant", "poisson"] = "constant",
        seed: int | None = None,
    ) -> None:
        self.stages: tuple[Stage, ...] = tuple(stages)
        if not self.stages:
            raise ValueError("stages must hold at least one step")
        if process not in ("constant", "poisson"):
            raise ValueError(f"process must be 'constant' or 'poisson', got {process!r}")
        super().__init__(math.fsum(stage.duration for stage in self.stages))
        self.process = process
        self.seed = seed
        self._segments = self._build(self.stages)

    @staticmethod
    def _build(stages: Sequence[Stage]) -> list[_Segment]:
        segments: list[_Segment] = []
        start = total = 0.0
        for stage in stages:
            slope = (stage.end_rate - stage.rate) / (2 * stage.duration)
            end_total = total + (stage.rate + stage.end_rate) / 2 * stage.duration
            segments.append(_Segment(start, stage.duration, stage.rate, slope, total, end_total))
            start += stage.duration
            total = end_total
        return segments

    def _levels(self) -> Iterator[float]:
        if self.process == "constant":
            return (float(k) for k in itertools.count())
        return itertools.accumulate(_exponential_gaps(self.seed))

    def offsets(self) -> Iterator[float]:
        segments = iter(self._segments)
        segment = next(segments)
        for level in self._levels():
            while level >= segment.end_total:
                next_segment = next(segments, None)
                if next_segment is None:
                    return
                segment = next_segment
            yield segment.time_at(level)

    def planned(self) -> int | None:
        """With ``constant``: the levels ``0, 1, 2, ...`` below the profile's total, i.e. its ceiling."""
        return math.ceil(self._segments[-1].end_total) if self.process == "constant" else None

    def expected(self, until: float) -> float:
        """``L(until)``, the number of arrivals the profile asks for by ``until``."""
        for segment in self._segments:
            if until < segment.start + segment.duration:
                into = max(until - segment.start, 0.0)
                return segment.total + segment.rate * into + segment.slope * into * into
        return self._segments[-1].end_total

    def describe(self) -> str:
        steps = ", ".join(
            f"{s.rate:g}/s" + (f"->{s.ramp_to:g}/s" if s.ramp_to is not None else "") + f" for {s.duration:g}s"
            for s in self.stages
        )
        return f"stages ({self.process}): {steps}"


def _exponential_gaps(seed: int | None) -> Iterator[float]:
    gap = random.Random(seed).expovariate
    while True:
        yield gap(1.0)
