"""Simulated run lifecycle: PENDING → RUNNING → SUCCEEDED / FAILED, and CANCELING → CANCELED.

Nothing ticks. A run is created with a :class:`Timeline` (when it starts running, when it ends and how),
and its state, ``finished_at``, ``state_history`` and task details are derived from the timeline and
the time of the read. Every read of one request uses one ``now``, so what it answers is consistent, and
:data:`STATE_SQL` derives the same state inside SQLite so ``state`` filters agree with what is shown.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from perf_tests.server.config import SimulatorConfig

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "FINISHED_AT_SQL",
    "NEVER",
    "STATE_CONDITIONS",
    "STATE_SQL",
    "RunPlan",
    "TaskState",
    "Timeline",
    "plan_run",
    "state_condition",
]

PENDING = "PENDING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELING = "CANCELING"
CANCELED = "CANCELED"

FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELED, "SKIPPED"})
"""States a run never leaves (except by ``:retry``)."""
ACTIVE_STATES = frozenset({PENDING, RUNNING, CANCELING})
"""States that count against a recurring run's ``max_concurrency``."""

STATE_SQL = (
    "(CASE WHEN cancel_at IS NOT NULL THEN (CASE WHEN :now >= canceled_at THEN 'CANCELED' ELSE 'CANCELING' END) "
    "WHEN :now < start_at THEN 'PENDING' "
    "WHEN end_at IS NULL OR :now < end_at THEN 'RUNNING' "
    "ELSE outcome END)"
)
"""SQL for a run's state at ``:now``; must agree with :meth:`Timeline.state`."""


NEVER = 1e18
"""The ``end_at`` stored for a run that never finishes (so "ends after now" is one index range)."""


def state_condition(state: str, *, use_index: bool = True) -> str:
    """``STATE_SQL = state`` rewritten so SQLite can answer it from the ``runs_state`` and
    ``runs_canceled`` indexes (active runs end after ``:now`` or never); unknown states match nothing.

    ``use_index=False`` marks the columns with unary ``+`` so the planner walks the sort index instead,
    which is faster for the page query when most runs match (finished ones).
    """
    c = "" if use_index else "+"
    live = f"{c}cancel_at IS NULL"
    ends_later = f"{c}end_at > :now"  # a run that never ends is stored with end_at = NEVER
    conditions = {
        PENDING: f"({live} AND {ends_later} AND {c}start_at > :now)",
        RUNNING: f"({live} AND {ends_later} AND {c}start_at <= :now)",
        SUCCEEDED: f"({live} AND {c}outcome = 'SUCCEEDED' AND {c}end_at <= :now)",
        FAILED: f"({live} AND {c}outcome = 'FAILED' AND {c}end_at <= :now)",
        CANCELING: f"({c}cancel_at IS NOT NULL AND {c}canceled_at > :now)",
        CANCELED: f"({c}cancel_at IS NOT NULL AND {c}canceled_at <= :now)",
    }
    return conditions.get(state, "0")


STATE_CONDITIONS = {
    state: state_condition(state) for state in (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELING, CANCELED)
}
"""The index-friendly condition of each state (see :func:`state_condition`)."""

FINISHED_AT_SQL = (
    "(CASE WHEN cancel_at IS NOT NULL THEN (CASE WHEN :now >= canceled_at THEN canceled_at ELSE 0 END) "
    "WHEN end_at IS NOT NULL AND :now >= end_at THEN end_at ELSE 0 END)"
)
"""SQL for a run's ``finished_at`` in epoch seconds at ``:now`` (0 while unfinished)."""


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The drawn fate of one attempt: how long it pends and runs, and how it ends."""

    pending: float
    duration: float
    outcome: str
    never_finishes: bool
    task_count: int
    failed_task: int | None = None

    @property
    def task_slot(self) -> float:
        """Time each task runs; tasks run one after another."""
        return self.duration / self.task_count

    @property
    def end_offset(self) -> float | None:
        """Seconds from the start of RUNNING to the final state; None when it never finishes."""
        if self.never_finishes:
            return None
        if self.failed_task is not None:
            return self.task_slot * (self.failed_task + 1)
        return self.duration


def plan_run(task_count: int, config: SimulatorConfig, rng: random.Random) -> RunPlan:
    """Draw an attempt's timing and outcome from the configuration.

    The duration is ``run_duration_seconds`` if set, else ``task_count * task_seconds``, scaled by a
    uniform factor within ``run_duration_spread``. A failing run fails at the end of a uniformly chosen
    task. Always draws the same number of random values, so a seeded sequence stays reproducible.
    """
    tasks = max(1, task_count)
    base = config.run_duration_seconds if config.run_duration_seconds is not None else tasks * config.task_seconds
    spread = config.run_duration_spread
    factor = rng.uniform(1.0 - spread, 1.0 + spread)
    fate = rng.random()
    failed_pick = rng.randrange(tasks)
    never = fate < config.run_never_finishes_probability
    failed = not never and fate < config.run_never_finishes_probability + config.run_failure_probability
    return RunPlan(
        pending=config.pending_seconds,
        duration=max(0.0, base * factor),
        outcome=FAILED if failed else SUCCEEDED,
        never_finishes=never,
        task_count=tasks,
        failed_task=failed_pick if failed else None,
    )


@dataclass(frozen=True, slots=True)
class TaskState:
    """One task of the current attempt as of a read."""

    index: int
    name: str
    state: str
    start: float
    end: float | None


@dataclass(frozen=True, slots=True)
class Timeline:
    """When the current attempt of a run pends, runs and ends; earlier attempts' history in ``prefix``."""

    seg_start: float
    start_at: float
    end_at: float | None
    outcome: str
    task_slot: float
    cancel_at: float | None = None
    canceled_at: float | None = None
    prefix: tuple[tuple[str, float], ...] = ()

    @classmethod
    def start(cls, now: float, plan: RunPlan, prefix: tuple[tuple[str, float], ...] = ()) -> Timeline:
        """The timeline of an attempt that begins (in PENDING) at ``now``."""
        start_at = now + plan.pending
        offset = plan.end_offset
        return cls(
            seg_start=now,
            start_at=start_at,
            end_at=None if offset is None else start_at + offset,
            outcome=plan.outcome,
            task_slot=plan.task_slot,
            prefix=prefix,
        )

    def state(self, now: float) -> str:
        """The run's state at ``now``."""
        if self.cancel_at is not None:
            assert self.canceled_at is not None
            return CANCELED if now >= self.canceled_at else CANCELING
        if now < self.start_at:
            return PENDING
        if self.end_at is None or now < self.end_at:
            return RUNNING
        return self.outcome

    def finished_at(self, now: float) -> float | None:
        """When the run reached its final state, or None if it has not (yet)."""
        if self.cancel_at is not None:
            assert self.canceled_at is not None
            return self.canceled_at if now >= self.canceled_at else None
        if self.end_at is not None and now >= self.end_at:
            return self.end_at
        return None

    def history(self, now: float) -> list[tuple[str, float]]:
        """``state_history`` at ``now``: every state entered so far, oldest first."""
        entries = list(self.prefix)
        entries.append((PENDING, self.seg_start))
        limit = self.cancel_at if self.cancel_at is not None else now
        if self.start_at <= limit and self.start_at <= now:
            entries.append((RUNNING, self.start_at))
        if self.cancel_at is not None:
            assert self.canceled_at is not None
            entries.append((CANCELING, self.cancel_at))
            if now >= self.canceled_at:
                entries.append((CANCELED, self.canceled_at))
        elif self.end_at is not None and now >= self.end_at:
            entries.append((self.outcome, self.end_at))
        return entries

    def terminated(self, now: float, canceling_seconds: float) -> Timeline | None:
        """The timeline after ``:terminate`` at ``now``; None when the run has already finished."""
        if self.cancel_at is not None or self.state(now) in FINAL_STATES:
            return None
        return replace(self, cancel_at=now, canceled_at=now + canceling_seconds)

    def retried(self, now: float, plan: RunPlan) -> Timeline:
        """A new attempt starting at ``now``, keeping the finished attempt's history."""
        return Timeline.start(now, plan, prefix=tuple(self.history(now)))

    def tasks(self, names: Sequence[str], now: float) -> list[TaskState]:
        """The current attempt's tasks that have started by ``now``, one after another."""
        result: list[TaskState] = []
        stop = self.cancel_at
        final = self.state(now)
        for index, name in enumerate(names):
            start = self.start_at + index * self.task_slot
            if start > now or (stop is not None and start > stop) or (self.end_at is not None and start > self.end_at):
                break
            end: float | None = start + self.task_slot
            last = index == len(names) - 1
            if self.end_at is not None and end is not None and end >= self.end_at - 1e-9:
                end = self.end_at
                state = self.outcome if now >= self.end_at else RUNNING
            elif self.end_at is None and last:
                end, state = None, RUNNING
            else:
                state = SUCCEEDED if end is not None and now >= end else RUNNING
            if stop is not None and (end is None or end > stop):
                assert self.canceled_at is not None
                end = self.canceled_at if final == CANCELED else None
                state = final
            result.append(TaskState(index=index, name=name, state=state, start=start, end=end))
            if self.end_at is not None and end is not None and end >= self.end_at:
                break
        return result

    def prefix_json(self) -> str | None:
        """The earlier attempts' history as stored, or None when there were none."""
        return json.dumps(self.prefix) if self.prefix else None

    @staticmethod
    def prefix_from_json(text: str | None) -> tuple[tuple[str, float], ...]:
        """Inverse of :meth:`prefix_json`."""
        if not text:
            return ()
        return tuple((str(state), float(ts)) for state, ts in json.loads(text))
