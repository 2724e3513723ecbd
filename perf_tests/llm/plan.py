"""Which GuideLLM processes an ``LLM_LOAD`` entry needs, and when each runs.

An entry without ``stages`` is one process for the whole entry. A ``stages`` profile (total rate per
step, the last step holding until the entry ends) becomes *layers*: constant-rate processes that overlap,
whose rates add up to each step's rate. A step up starts a new layer at the difference; a step down
ends the newest layers (splitting one if needed). So the stair-step of the autoscaler experiment
(0.5 → 1 → 1.5 → 2 req/s, +0.5 every 10 minutes, then a hold) is exactly its four time-shifted
GuideLLM copies at 0.5 req/s, all ending at 60 minutes, and any other shape works too. The sum of
``poisson`` layers is a Poisson process of the summed rate; ``constant`` layers are each evenly spaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perf_tests.llm.options import LlmLoadFields

__all__ = ["Launch", "plan_launches", "stage_layers"]

_EPS = 1e-9


@dataclass(frozen=True)
class Launch:
    """One GuideLLM process: from ``start`` to ``end`` seconds after the entry's start.

    ``rate`` is this process's own rate (requests/s for constant and poisson, streams for concurrent,
    benchmarks for sweep; None for synchronous and throughput).
    """

    index: int
    start: float
    end: float
    rate: float | None
    count: int = 1
    tool: str = "guidellm"

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def label(self) -> str:
        """File-name stem of this process's output: ``<tool>`` or ``<tool>-<n>`` of several (``guidellm-2``)."""
        return self.tool if self.count == 1 else f"{self.tool}-{self.index + 1}"


def stage_layers(stages: Sequence[tuple[float, float]], total: float) -> list[tuple[float, float, float]]:
    """``(start, end, rate)`` layers whose rates add up to each ``(rate, duration)`` step's rate.

    The last step holds until ``total`` seconds. Layers are ordered by start time.
    """
    stack: list[tuple[float, float]] = []  # (start, rate) of the open layers, newest last
    layers: list[tuple[float, float, float]] = []
    level = 0.0
    offset = 0.0
    for number, (rate, duration) in enumerate(stages):
        if rate > level + _EPS:
            stack.append((offset, rate - level))
        elif rate < level - _EPS:
            cut = level - rate
            while cut > _EPS and stack:
                start, layer_rate = stack.pop()
                if offset > start + _EPS:
                    layers.append((start, offset, layer_rate))
                if layer_rate > cut + _EPS:
                    stack.append((offset, layer_rate - cut))
                    cut = 0.0
                else:
                    cut -= layer_rate
        level = rate
        offset = total if number == len(stages) - 1 else offset + duration
    layers.extend((start, offset, layer_rate) for start, layer_rate in stack if offset > start + _EPS)
    return sorted(layers, key=lambda layer: (layer[0], layer[1]))


def plan_launches(entry: LlmLoadFields) -> list[Launch]:
    """The GuideLLM processes of an entry (offsets relative to the entry's start)."""
    if entry.stages is None:
        rate = entry.rate
        if entry.rate_type == "sweep":
            rate = float(entry.sweep_size)
        return [Launch(0, 0.0, entry.run_time, rate)]
    layers = stage_layers([(stage.rate, stage.duration) for stage in entry.stages], entry.run_time)
    return [
        Launch(index, start, end, round(rate, 9), len(layers))
        for index, (start, end, rate) in enumerate(layers)
    ]
