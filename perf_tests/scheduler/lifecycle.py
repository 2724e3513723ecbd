"""The one lifecycle of everything that does timed work: a runner, an LLM executor, a Tekton load and
its PipelineRun session all go through the same phases, in order:

1. ``prepare(...)``: before the work's start (connect, check, launch what must start early). Returns at
   once when stopped meanwhile.
2. ``run(...)``: do the work until it is done or stopped; return (or raise) its outcome.
3. ``stop(reason)``: from any thread, at any time (also before ``prepare``): sets the work's
   ``StopToken`` with the reason and returns at once; ``prepare``/``run`` then wind down.
4. ``cleanup()``: always, last, also after a failed or skipped ``prepare``/``run``: nothing the work
   started is left behind.

``prepare`` and ``run`` take what each kind of work needs; what every driver relies on is the
``Lifecycle`` protocol: the token, ``stop``, ``progress`` and ``cleanup``. ``Stoppable`` is the base that
gives the ``@final`` ``stop``: a subclass that must act at once when stopped (cancel PipelineRuns, wake a
condition) registers a callback on ``self.stopping`` rather than overriding ``stop``, so the signal and
its reason live in one place. Work driven by other work shares the driver's token (``stopping=``), so
one ``stop`` reaches the whole chain at once.
"""

from __future__ import annotations

from typing import Protocol, final, runtime_checkable

from perf_tests.scheduler.stop import STOPPED, StopToken

__all__ = ["Lifecycle", "Stoppable"]


@runtime_checkable
class Lifecycle(Protocol):
    """What a driver needs of work in the lifecycle above (between its own ``prepare`` and ``run``)."""

    @property
    def stopping(self) -> StopToken:
        """The work's stop token (its reason says why it stopped)."""
        ...

    def stop(self, reason: str = STOPPED) -> None:
        """Phase 3: ask the work to wind down; thread-safe, returns at once."""
        ...

    def progress(self) -> str:
        """One short line on what the work is doing now."""
        ...

    def cleanup(self) -> None:
        """Phase 4: leave nothing behind; always called last."""
        ...


class Stoppable:
    """Owns (or shares) a ``StopToken``; ``stop`` sets it and is final (see the module docstring)."""

    def __init__(self, stopping: StopToken | None = None) -> None:
        self._stopping = stopping if stopping is not None else StopToken()

    @property
    def stopping(self) -> StopToken:
        """The stop token: set by ``stop``, or by whoever shares it."""
        return self._stopping

    @final
    def stop(self, reason: str = STOPPED) -> None:
        """Ask the work to wind down, saying why; thread-safe, returns at once."""
        self._stopping.set(reason)

    @property
    def stop_reason(self) -> str | None:
        """Why the work was stopped; None while it was not."""
        return self._stopping.reason

    def progress(self) -> str:
        """One short line on what the work is doing now (default: nothing to say)."""
        return ""
