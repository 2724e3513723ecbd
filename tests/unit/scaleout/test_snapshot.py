"""A recorder split over shards, snapshotted through JSON and merged equals one recorder that saw it all."""

from __future__ import annotations

import random

import pytest

from perf_tests.errors import ConfigurationError
from perf_tests.recorder.events import AggregateRecord, OperationEvent, ScenarioMark
from perf_tests.recorder.recorder import Recorder
from perf_tests.recorder.stats import new_histogram
from perf_tests.scaleout.merge import check_shards
from perf_tests.scaleout.result import ShardResult
from perf_tests.scaleout.shard import ShardSpec
from perf_tests.scaleout.snapshot import RecorderSnapshot, merge_snapshots, snapshot


def _events(seed: int, shard: int) -> list[object]:
    rng = random.Random(seed)
    events: list[object] = [ScenarioMark("gets", "RANDOM_GETS", "started", 1000.0 + shard, attrs={
        "load": {"sent": 10 + shard, "dropped": shard, "elapsed": 5.0, "achieved_rate": 2.0}})]
    for i in range(300):
        ok = rng.random() > 0.1
        events.append(OperationEvent("gets", "RANDOM_GETS", "list_runs", 1000.0 + i * 0.01, rng.uniform(0.001, 2.0),
                                     ok, None if ok else rng.choice(["timeout", "http_503"]),
                                     attrs={"lateness": rng.uniform(0, 0.01)}))
    histogram = new_histogram()
    for _ in range(50):
        histogram.record_value(rng.randint(100, 90_000))
    events.append(AggregateRecord("gets", "RANDOM_GETS", "get_run", 1001 + shard, 50, histogram,
                                  errors={"connection": shard + 1}, counters={"dropped": 3}))
    events.append(ScenarioMark("gets", "RANDOM_GETS", "finished", 1010.0 + shard, status="error" if shard else None,
                               message="boom" if shard else None))
    return events


def test_merged_snapshots_equal_one_recorder() -> None:
    whole = Recorder()
    parts = []
    for shard in range(3):
        recorder = Recorder()
        for event in _events(shard, shard):
            recorder(event)  # type: ignore[arg-type]
            whole(event)  # type: ignore[arg-type]
        wire = snapshot(recorder).model_dump_json()  # what workeroutput / shard.json carry
        parts.append((f"shard {shard}/3", RecorderSnapshot.model_validate_json(wire)))
    merged = merge_snapshots(parts)
    for name in ("list_runs", "get_run"):
        mine, theirs = merged.scenarios["gets"].operations[name], whole.scenarios["gets"].operations[name]
        assert (mine.ok, mine.failed, dict(mine.errors), dict(mine.counters)) == (
            theirs.ok, theirs.failed, dict(theirs.errors), dict(theirs.counters))
        for percentile in (50, 90, 99, 99.9, 100):
            assert mine.percentile_ms(percentile) == theirs.percentile_ms(percentile)
        assert {s: (c.ok, c.failed) for s, c in mine.timeline.items()} == {
            s: (c.ok, c.failed) for s, c in theirs.timeline.items()}
        assert mine.values.keys() == theirs.values.keys()
        for key in mine.values:
            assert mine.values[key].get_value_at_percentile(99) == theirs.values[key].get_value_at_percentile(99)
    record = merged.scenarios["gets"]
    assert (record.started, record.finished) == (1000.0, 1012.0)
    assert record.status == "error" and record.message == "[shard 1/3] boom"  # the worst shard's status
    assert record.attrs["load"]["sent"] == 10 + 11 + 12 and record.attrs["load"]["dropped"] == 3
    assert set(record.attrs["shards"]) == {"shard 0/3", "shard 1/3", "shard 2/3"}


def _result(index: int, count: int, run_id: str = "r") -> ShardResult:
    return ShardResult(shard=ShardSpec(index=index, count=count), run_id=run_id, shard_run_id=f"{run_id}-{index}",
                       results_dir=f"/tmp/{index}", started=0.0, finished=1.0)


def test_merge_needs_every_shard_once() -> None:
    assert check_shards([_result(1, 2), _result(0, 2)]) == 2
    with pytest.raises(ConfigurationError, match=r"shard\(s\) 1/2 missing"):
        check_shards([_result(0, 2)])
    with pytest.raises(ConfigurationError, match="given twice"):
        check_shards([_result(0, 2), _result(0, 2), _result(1, 2)])
    with pytest.raises(ConfigurationError, match="different runs"):
        check_shards([_result(0, 2, "a"), _result(1, 2, "b")])
