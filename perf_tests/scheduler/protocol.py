"""What the scheduler needs from a runner: a small protocol, not the concrete runner classes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["ScheduledRunner"]


@runtime_checkable
class ScheduledRunner(Protocol):
    """A unit of work with a window on the shared clock.

    ``setup`` is the lifecycle's prepare phase (``perf_tests.scheduler.lifecycle``), ``execute`` the rest
    of it (wait for the start, run, cleanup); ``stop`` is the lifecycle's. ``BaseRunner`` is one.
    """

    @property
    def name(self) -> str:
        """The scenario entry's name."""
        ...

    @property
    def start_offset(self) -> float:
        """Seconds after t0 at which the work starts."""
        ...

    @property
    def end_offset(self) -> float:
        """Seconds after t0 at which the scheduler calls ``stop``."""
        ...

    def setup(self) -> None:
        """Prepare before t0 (connect, upload, build); raise on failure. ``execute`` follows either way."""
        ...

    def execute(self) -> None:
        """Wait for the start time, do the work, clean up; return when done (raise on failure)."""
        ...

    def stop(self, reason: str = "stopped") -> None:
        """Ask the work to end soon, saying why (``end``, or the abort's reason); thread-safe, returns at once."""
        ...

    def progress(self) -> str:
        """One short line on what the work is doing now."""
        ...
