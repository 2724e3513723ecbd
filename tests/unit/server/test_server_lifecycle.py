"""Simulated run lifecycle: states derived from timelines, in Python and in SQL alike."""

from __future__ import annotations

import random
import sqlite3

import pytest

from perf_tests.server.config import SimulatorConfig
from perf_tests.server.lifecycle import FINISHED_AT_SQL, NEVER, STATE_CONDITIONS, STATE_SQL, RunPlan, Timeline, plan_run

NAMES = ["a", "b", "c"]


def plan(outcome: str = "SUCCEEDED", never: bool = False, failed_task: int | None = None) -> RunPlan:
    return RunPlan(
        pending=1.0, duration=3.0, outcome=outcome, never_finishes=never, task_count=3, failed_task=failed_task
    )


def test_success_moves_pending_running_succeeded() -> None:
    timeline = Timeline.start(100.0, plan())
    assert (timeline.start_at, timeline.end_at) == (101.0, 104.0)
    assert [timeline.state(t) for t in (100.0, 100.9, 101.0, 103.9, 104.0, 1e9)] == [
        "PENDING",
        "PENDING",
        "RUNNING",
        "RUNNING",
        "SUCCEEDED",
        "SUCCEEDED",
    ]
    assert timeline.finished_at(103.0) is None
    assert timeline.finished_at(200.0) == 104.0
    assert timeline.history(100.5) == [("PENDING", 100.0)]
    assert timeline.history(200.0) == [("PENDING", 100.0), ("RUNNING", 101.0), ("SUCCEEDED", 104.0)]


def test_tasks_run_one_after_another() -> None:
    timeline = Timeline.start(100.0, plan())
    assert timeline.tasks(NAMES, 100.5) == []
    running = timeline.tasks(NAMES, 102.5)
    assert [(t.name, t.state) for t in running] == [("a", "SUCCEEDED"), ("b", "RUNNING")]
    assert running[1].start == 102.0
    done = timeline.tasks(NAMES, 200.0)
    assert [(t.name, t.state, t.end) for t in done] == [
        ("a", "SUCCEEDED", 102.0),
        ("b", "SUCCEEDED", 103.0),
        ("c", "SUCCEEDED", 104.0),
    ]


def test_failure_stops_at_the_failing_task() -> None:
    timeline = Timeline.start(100.0, plan("FAILED", failed_task=1))
    assert timeline.end_at == 103.0
    assert timeline.state(103.0) == "FAILED"
    assert [(t.name, t.state) for t in timeline.tasks(NAMES, 200.0)] == [("a", "SUCCEEDED"), ("b", "FAILED")]


def test_never_finishing_run_stays_running() -> None:
    timeline = Timeline.start(100.0, plan(never=True))
    assert timeline.end_at is None
    assert timeline.state(1e12) == "RUNNING"
    assert timeline.finished_at(1e12) is None
    assert [t.state for t in timeline.tasks(NAMES, 1e12)] == ["SUCCEEDED", "SUCCEEDED", "RUNNING"]


def test_terminate_goes_through_canceling() -> None:
    timeline = Timeline.start(100.0, plan())
    terminated = timeline.terminated(102.5, canceling_seconds=0.5)
    assert terminated is not None
    assert terminated.state(102.6) == "CANCELING"
    assert terminated.state(103.0) == "CANCELED"
    assert terminated.finished_at(102.9) is None
    assert terminated.finished_at(103.0) == 103.0
    assert terminated.history(104.0) == [
        ("PENDING", 100.0),
        ("RUNNING", 101.0),
        ("CANCELING", 102.5),
        ("CANCELED", 103.0),
    ]
    assert [(t.name, t.state) for t in terminated.tasks(NAMES, 104.0)] == [("a", "SUCCEEDED"), ("b", "CANCELED")]
    assert terminated.terminated(103.5, 0.5) is None  # terminating twice changes nothing


def test_terminate_while_pending_and_after_the_end() -> None:
    timeline = Timeline.start(100.0, plan())
    pending = timeline.terminated(100.5, 0.0)
    assert pending is not None
    assert pending.history(101.0) == [("PENDING", 100.0), ("CANCELING", 100.5), ("CANCELED", 100.5)]
    assert pending.tasks(NAMES, 200.0) == []
    assert timeline.terminated(150.0, 0.5) is None


def test_retry_starts_a_new_attempt_keeping_history() -> None:
    failed = Timeline.start(100.0, plan("FAILED", failed_task=0))
    retried = failed.retried(110.0, plan())
    assert retried.state(110.5) == "PENDING"
    assert retried.state(200.0) == "SUCCEEDED"
    assert [s for s, _ in retried.history(200.0)] == ["PENDING", "RUNNING", "FAILED", "PENDING", "RUNNING", "SUCCEEDED"]
    assert Timeline.prefix_from_json(retried.prefix_json()) == retried.prefix


def test_plan_uses_task_count_duration_and_spread() -> None:
    rng = random.Random(1)
    config = SimulatorConfig(task_seconds=2.0, pending_seconds=0.25)
    fixed = plan_run(3, config, rng)
    assert (fixed.pending, fixed.duration, fixed.task_slot, fixed.outcome) == (0.25, 6.0, 2.0, "SUCCEEDED")
    assert plan_run(0, config, rng).duration == 2.0  # at least one task
    assert plan_run(3, config.merged(run_duration_seconds=1.5), rng).duration == 1.5
    spread = [plan_run(3, config.merged(run_duration_spread=0.5), rng).duration for _ in range(200)]
    assert 3.0 <= min(spread) < 4.0
    assert 8.0 < max(spread) <= 9.0


def test_plan_outcome_probabilities_and_seeding() -> None:
    config = SimulatorConfig(run_failure_probability=0.3, run_never_finishes_probability=0.1)
    rng = random.Random(5)
    plans = [plan_run(3, config, rng) for _ in range(2000)]
    failed = sum(p.outcome == "FAILED" for p in plans) / len(plans)
    never = sum(p.never_finishes for p in plans) / len(plans)
    assert 0.25 < failed < 0.35
    assert 0.07 < never < 0.13
    assert all(p.failed_task is not None for p in plans if p.outcome == "FAILED")
    again = [plan_run(3, config, random.Random(5)) for _ in range(1)]
    assert again[0] == plans[0]


def test_sql_state_and_finished_at_agree_with_python() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE runs (start_at REAL, end_at REAL, outcome TEXT, cancel_at REAL, canceled_at REAL)")
    rng = random.Random(11)
    for _ in range(300):
        run_plan = RunPlan(
            pending=rng.choice([0.0, 1.0]),
            duration=rng.choice([0.0, 2.0, 5.0]),
            outcome=rng.choice(["SUCCEEDED", "FAILED"]),
            never_finishes=rng.random() < 0.2,
            task_count=3,
            failed_task=0,
        )
        timeline = Timeline.start(100.0, run_plan)
        if rng.random() < 0.4:
            timeline = timeline.terminated(100.0 + rng.uniform(0, 6), rng.choice([0.0, 1.0])) or timeline
        for now in (99.0, 100.0, 100.5, 101.0, 102.0, 103.0, 105.0, 107.0, 200.0):
            state, finished = _sql_eval(conn, timeline, now)
            assert state == timeline.state(now), (timeline, now)
            assert (finished or None) == timeline.finished_at(now), (timeline, now)
            matching = [
                name
                for name, condition in STATE_CONDITIONS.items()
                if conn.execute(f"SELECT count(*) FROM runs WHERE {condition}", {"now": now}).fetchone()[0]
            ]
            assert matching == [state], (timeline, now)  # the index-friendly conditions agree too


def _sql_eval(conn: sqlite3.Connection, timeline: Timeline, now: float) -> tuple[str, float]:
    conn.execute("DELETE FROM runs")
    conn.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
        (
            timeline.start_at,
            NEVER if timeline.end_at is None else timeline.end_at,
            timeline.outcome,
            timeline.cancel_at,
            timeline.canceled_at,
        ),  # stored as the store stores it
    )
    row = conn.execute(f"SELECT {STATE_SQL}, {FINISHED_AT_SQL} FROM runs", {"now": now}).fetchone()
    return row[0], row[1]


@pytest.mark.parametrize("field", ["run_failure_probability", "drop_probability"])
def test_config_rejects_probabilities_over_one(field: str) -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        SimulatorConfig(**{field: 1.5})
