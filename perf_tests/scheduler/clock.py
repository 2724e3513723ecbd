"""The one shared clock of a test run: every entry's start and end are offsets from t0."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Clock"]


@dataclass(frozen=True)
class Clock:
    """t0 as both a monotonic reading (for waiting) and a wall-clock time (for records)."""

    t0_monotonic: float = field(default_factory=time.monotonic)
    t0_wall: float = field(default_factory=time.time)

    def monotonic_at(self, offset: float) -> float:
        """The monotonic time ``offset`` seconds after t0."""
        return self.t0_monotonic + offset

    def wall_at(self, offset: float) -> float:
        """The wall-clock time (epoch seconds) ``offset`` seconds after t0."""
        return self.t0_wall + offset

    def elapsed(self) -> float:
        """Seconds since t0."""
        return time.monotonic() - self.t0_monotonic

    def wall_now(self) -> float:
        """Wall-clock now, derived from the monotonic clock so that it never jumps."""
        return self.t0_wall + self.elapsed()
