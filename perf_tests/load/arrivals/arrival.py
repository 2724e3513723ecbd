"""The base of every arrival model: when the load engine starts requests.

Two families: *scheduled* (open-loop) models produce an absolute schedule of offsets from the start,
so a slow server cannot slow the sender down (``constant``, ``poisson``, ``stages``); the
*concurrent* (closed-loop) model keeps a fixed number of requests in flight, each one sent when the
previous one ends.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

__all__ = ["ArrivalModel", "ScheduledArrivals"]


class ArrivalModel(ABC):
    """When requests start. ``duration`` is how long the model runs (None: until stopped)."""

    kind: ClassVar[str]

    def __init__(self, duration: float | None = None) -> None:
        if duration is not None and duration <= 0:
            raise ValueError(f"duration must be greater than 0, got {duration!r}")
        self.duration = duration

    @abstractmethod
    def describe(self) -> str:
        """A short human-readable description, e.g. ``constant 200/s``."""


class ScheduledArrivals(ArrivalModel):
    """An open-loop model: an absolute schedule that does not wait for responses."""

    @abstractmethod
    def offsets(self) -> Iterator[float]:
        """Non-decreasing offsets in seconds from the start; finite when ``duration`` is set."""

    @abstractmethod
    def expected(self, until: float) -> float:
        """The expected number of arrivals in ``[0, until)`` (for summaries and tests)."""

    def planned(self) -> int | None:
        """How many arrivals ``offsets()`` yields when that is known without walking the schedule.

        None for an endless schedule and for random ones (whose count is only known by walking them).
        """
        return None
