"""The one shared clock of a test run: every entry's start and end are offsets from t0.

t0 is set by ``start()`` when every runner has prepared (the scheduler calls it), so slow preparation
(an upload, a tokenizer build) never shifts the planned start times; before that, t0 is the clock's
creation time.
"""

from __future__ import annotations

import time

__all__ = ["Clock"]


class Clock:
    """t0 as both a monotonic reading (for waiting) and a wall-clock time (for records)."""

    def __init__(self) -> None:
        self.t0_monotonic = time.monotonic()
        self.t0_wall = time.time()

    def start(self) -> None:
        """Set t0 to now."""
        self.t0_monotonic = time.monotonic()
        self.t0_wall = time.time()

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
