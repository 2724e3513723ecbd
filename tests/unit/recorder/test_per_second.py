"""PerSecondAggregator: one aggregate per operation and second, every attempt accounted for exactly once."""

import random

import pytest
from recorder_helpers import RESOLUTION, exact_percentile

from perf_tests.recorder import AggregateRecord, EventHook, OperationEvent, PerSecondAggregator, Recorder


class Collected:
    """Listener keeping every event, and a Recorder fed the same events."""

    def __init__(self):
        self.events = []
        self.recorder = Recorder()

    def __call__(self, event):
        self.events.append(event)
        self.recorder(event)

    def of(self, kind):
        return [event for event in self.events if isinstance(event, kind)]

    def attempts(self, operation=None):
        """Attempts seen on the hook: own events plus the aggregates' ok and failed counts."""
        own = sum(1 for e in self.of(OperationEvent) if operation in (None, e.operation))
        aggregated = sum(e.ok + e.failed for e in self.of(AggregateRecord) if operation in (None, e.operation))
        return own + aggregated


@pytest.fixture
def hook_and_events():
    hook = EventHook()
    collected = Collected()
    hook.add_listener(collected)
    return hook, collected


def test_every_attempt_is_accounted_for_exactly_once(hook_and_events):
    hook, collected = hook_and_events
    stream = PerSecondAggregator(hook, "s", "RANDOM_GETS", error_events_per_second=5)
    rng = random.Random(7)
    ok = failed = 0
    errors_per_type: dict[str, int] = {}
    for i in range(5000):
        start = 1000.0 + i / 1000.0  # five seconds of attempts
        operation = "get" if i % 3 else "list"
        success = rng.random() > 0.1
        error_type = None if success else rng.choice(["http_500", "timeout"])
        stream.record(operation, start, rng.uniform(0.001, 0.5), success, error_type, "error text")
        if i % 1000 == 500:
            stream.flush(before=start)  # hand over the seconds already closed while the stream runs
        ok += success
        failed += not success
        if error_type:
            errors_per_type[error_type] = errors_per_type.get(error_type, 0) + 1
    assert len(collected.of(AggregateRecord)) == 2 * 4  # seconds 1000..1003 of both operations
    stream.flush()

    assert collected.attempts() == 5000
    stats = collected.recorder.scenarios["s"].operations
    assert sum(s.ok for s in stats.values()) == ok
    assert sum(s.failed for s in stats.values()) == failed
    merged: dict[str, int] = {}
    for s in stats.values():
        for name, count in s.errors.items():
            merged[name] = merged.get(name, 0) + count
    assert merged == errors_per_type
    # the cap: at most 5 failures of each second became their own events
    per_second: dict[int, int] = {}
    for event in collected.of(OperationEvent):
        assert not event.ok
        per_second[int(event.start)] = per_second.get(int(event.start), 0) + 1
    assert per_second == dict.fromkeys(range(1000, 1005), 5)
    assert sum(e.failed for e in collected.of(AggregateRecord)) == failed - 25


def test_one_aggregate_per_operation_and_second(hook_and_events):
    hook, collected = hook_and_events
    stream = PerSecondAggregator(hook, "s", "RANDOM_GETS")
    for start in (10.1, 10.9, 11.0, 11.5, 12.2):
        stream.record("get", start, 0.01, True)
    stream.record("list", 10.5, 0.01, True)
    stream.flush(before=12.0)
    assert sorted((e.operation, e.second, e.ok) for e in collected.of(AggregateRecord)) == [
        ("get", 10, 2), ("get", 11, 2), ("list", 10, 1),
    ]
    stream.flush()
    assert [(e.operation, e.second, e.ok) for e in collected.of(AggregateRecord)][-1] == ("get", 12, 1)
    stream.flush()
    assert len(collected.of(AggregateRecord)) == 4  # nothing left to flush


def test_aggregated_percentiles_match_exact_ones(hook_and_events, durations_ms):
    hook, collected = hook_and_events
    stream = PerSecondAggregator(hook, "s", "RANDOM_GETS")
    for i, ms in enumerate(durations_ms):
        stream.record("get", 1000.0 + i * 0.003, ms / 1000.0, True, values={"lateness": ms / 10_000.0})
    stream.flush()
    summary = collected.recorder.scenarios["s"].operations["get"].summary()
    assert summary["count"] == len(durations_ms)
    for percentile in (50, 90, 95, 99):
        assert summary[f"p{percentile}_ms"] == pytest.approx(exact_percentile(durations_ms, percentile),
                                                             rel=RESOLUTION)
    assert summary["min_ms"] == pytest.approx(min(durations_ms), rel=RESOLUTION)
    assert summary["max_ms"] == pytest.approx(max(durations_ms), rel=RESOLUTION)
    assert summary["mean_ms"] == pytest.approx(sum(durations_ms) / len(durations_ms), rel=RESOLUTION)
    lateness = [ms / 10 for ms in durations_ms]
    assert summary["lateness"]["p99_ms"] == pytest.approx(exact_percentile(lateness, 99), rel=RESOLUTION)
    assert summary["lateness"]["max_ms"] == pytest.approx(max(lateness), rel=RESOLUTION)


def test_every_request_mode_fires_one_event_per_attempt(hook_and_events):
    hook, collected = hook_and_events
    stream = PerSecondAggregator(hook, "s", "RANDOM_GETS", every_request=True)
    stream.record("get", 1.0, 0.01, True, values={"lateness": 0.002}, attrs={"page": 1})
    stream.record("get", 1.5, 0.02, False, "timeout", "took too long")
    stream.flush()
    assert collected.of(AggregateRecord) == []
    ok_event, failed_event = collected.of(OperationEvent)
    assert ok_event.attrs == {"page": 1, "lateness": 0.002}
    assert (failed_event.ok, failed_event.error_type, failed_event.error) == (False, "timeout", "took too long")
    stats = collected.recorder.scenarios["s"].operations["get"]
    assert (stats.ok, stats.failed) == (1, 1)
    assert stats.values["lateness"].get_total_count() == 1


def test_error_budget_is_per_second(hook_and_events):
    hook, collected = hook_and_events
    stream = PerSecondAggregator(hook, "s", "RANDOM_GETS", error_events_per_second=2)
    for start in (1.0, 1.1, 1.2, 1.3, 2.0, 2.1, 2.2):
        stream.record("get", start, 0.01, False, "http_503")
    stream.flush()
    assert [e.start for e in collected.of(OperationEvent)] == [1.0, 1.1, 2.0, 2.1]
    assert [(e.second, e.errors) for e in collected.of(AggregateRecord)] == [(1, {"http_503": 2}), (2, {"http_503": 1})]
    assert collected.attempts() == 7


def test_counters_are_not_attempts(hook_and_events):
    hook, collected = hook_and_events
    stream = PerSecondAggregator(hook, "s", "RANDOM_GETS")
    stream.count("get", "dropped", 5.5)
    stream.count("get", "dropped", 5.7, amount=3)
    stream.record("get", 5.1, 0.01, True)
    stream.flush()
    (aggregate,) = collected.of(AggregateRecord)
    assert (aggregate.ok, aggregate.failed, aggregate.counters) == (1, 0, {"dropped": 4})
    summary = collected.recorder.scenarios["s"].operations["get"].summary()
    assert (summary["count"], summary["dropped"]) == (1, 4)


def test_attributes_are_kept_per_second_last_value_wins(hook_and_events):
    hook, collected = hook_and_events
    stream = PerSecondAggregator(hook, "s", "RANDOM_GETS")
    stream.record("list", 1.0, 0.01, True, attrs={"total_size": 10, "page": 1})
    stream.record("list", 1.5, 0.01, True, attrs={"total_size": 12})
    stream.flush()
    (aggregate,) = collected.of(AggregateRecord)
    assert aggregate.attrs == {"total_size": 12, "page": 1}
