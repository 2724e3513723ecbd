"""``python -m perf_tests.llm.launcher <guidellm arguments>``: GuideLLM's own CLI, started early and held.

GuideLLM needs 10-20 s to start (imports, worker processes, data preparation) before its first request,
so the framework launches it ahead of the entry's start time. With ``PERF_TESTS_START_AT`` (epoch
seconds) set, ``guidellm run`` does all of that and then holds its scheduler's start until that instant,
so the first request is due exactly at the entry's start; ``PERF_TESTS_END_AT`` adds a constraint that
ends the benchmark at that instant even if the start was late (a late start is reported, not stretched).
Both act on ``NonDistributedEnvironment``, the seam GuideLLM provides for coordinating when a run
starts; everything else is GuideLLM unchanged. Lines starting with ``perf-tests:`` report the hold.

The launcher also ends its process group when the test run that started it dies (Linux parent-death
signal), so a killed run leaves no GuideLLM behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from perf_tests.llm.startup import END_AT_ENV, MARK, NO_LOAD_EXIT, PARENT_PID_ENV, START_AT_ENV

__all__ = ["install_schedule", "main"]

DEADLINE_CONSTRAINT = "perf_tests_deadline"
_PR_SET_PDEATHSIG = 1


def _say(message: str) -> None:
    print(f"{MARK} {message}", file=sys.stderr, flush=True)


def _end_group(signum: int, frame: Any) -> None:
    """On SIGTERM, end the whole group (GuideLLM's spawned workers ignore their parent's death)."""
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(128 + signum)


def _die_with_parent() -> None:
    """Ask Linux for SIGTERM when the test run that started us dies; exit if it is already gone."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        os._exit(1)


def _float_env(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        _say(f"ignoring {name}={raw!r}: not a number")
        return None


class _Deadline:
    """A GuideLLM constraint: stop queuing and processing at ``end_at`` (epoch seconds), for every
    remaining benchmark too."""

    def __init__(self, end_at: float) -> None:
        self.end_at = end_at

    def __call__(self, state: Any, request_info: Any) -> Any:
        from guidellm.scheduler.schemas import SchedulerProgress, SchedulerUpdateAction

        now = time.time()
        done = now >= self.end_at
        return SchedulerUpdateAction(
            request_queuing="stop" if done else "continue",
            request_processing="stop_local" if done else "continue",
            stopping_scope="all",
            metadata={"deadline": self.end_at, "current_time": now, "deadline_reached": done},
            progress=SchedulerProgress(
                remaining_duration=max(0.0, self.end_at - now), stop_time=self.end_at if done else None
            ),
        )


def install_schedule(start_at: float | None, end_at: float | None) -> None:
    """Hold GuideLLM's scheduler start until ``start_at`` and end its benchmarks at ``end_at``."""
    from guidellm.scheduler.environments import NonDistributedEnvironment

    original_start = NonDistributedEnvironment.sync_run_start
    original_params = NonDistributedEnvironment.sync_run_params
    first = [True]

    async def sync_run_params(self: Any, requests: Any, strategy: Any, constraints: Any) -> Any:
        requests, strategy, constraints = await original_params(self, requests, strategy, constraints)
        if end_at is not None:
            constraints = {**constraints, DEADLINE_CONSTRAINT: _Deadline(end_at)}
        return requests, strategy, constraints

    async def sync_run_start(self: Any) -> float:
        start: float = await original_start(self)
        if first[0] and start_at is not None:
            first[0] = False
            ready = time.time()
            if start <= start_at:
                _say(f"ready at {ready:.3f}; holding until {start_at:.3f} ({start_at - ready:.1f}s early)")
                return start_at
            if end_at is not None and start >= end_at:
                _say(f"error: GuideLLM was ready at {ready:.3f}, after the end of its load window ({end_at:.3f}); "
                     "no load was sent: launch it earlier (a larger startupLead or a later startTime)")
                os._exit(NO_LOAD_EXIT)
            _say(f"ready at {ready:.3f}; starting at {start:.3f}, {start - start_at:.3f}s late")
        return start

    setattr(NonDistributedEnvironment, "sync_run_params", sync_run_params)  # noqa: B010 - patching a method
    setattr(NonDistributedEnvironment, "sync_run_start", sync_run_start)  # noqa: B010


def main(argv: Sequence[str] | None = None) -> int:
    """Run GuideLLM's CLI with ``argv`` (default: this process's arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _end_group)
    _die_with_parent()
    if args[:1] == ["run"]:
        start_at, end_at = _float_env(START_AT_ENV), _float_env(END_AT_ENV)
        if start_at is not None or end_at is not None:
            install_schedule(start_at, end_at)
    from guidellm.cli import cli

    try:
        cli.main(args=args, prog_name="guidellm")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":  # spawned GuideLLM workers import this module as __mp_main__: no side effects
    sys.exit(main())
