"""Sharding math: split counts, split schedules whose union is the one schedule, entry shares."""

from __future__ import annotations

import itertools

import pytest

from perf_tests.errors import ConfigurationError
from perf_tests.load.arrivals import ConstantArrivals, PoissonArrivals, Stage, StagesArrivals
from perf_tests.models.scenario_file import Scenario
from perf_tests.runners.registry import options_models
from perf_tests.scaleout import ShardedArrivals, parse_shard, parse_start_at, split_count
from perf_tests.scaleout.plan import plan_shard, share_entry
from perf_tests.scaleout.shard import START_AT_TOLERANCE


def _entry(data: dict[str, object]) -> object:
    return options_models()[str(data["mode"])].model_validate(data)


@pytest.mark.parametrize(("total", "count"), [(0, 3), (1, 2), (7, 3), (10, 4), (100, 7)])
def test_split_count_adds_up_and_differs_by_at_most_one(total: int, count: int) -> None:
    parts = [split_count(total, index, count) for index in range(count)]
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1
    assert parts == sorted(parts, reverse=True)  # the remainder goes to the first shards


@pytest.mark.parametrize("count", [1, 2, 3, 5])
@pytest.mark.parametrize("model", [
    ConstantArrivals(97.0, duration=2.0),
    PoissonArrivals(150.0, duration=2.0, seed=7),
    StagesArrivals([Stage(10.0, 1.0), Stage(40.0, 1.0, ramp_to=90.0), Stage(5.0, 0.5)]),
])
def test_union_of_shards_is_the_one_schedule(model: object, count: int) -> None:
    whole = list(model.offsets())  # type: ignore[attr-defined]
    shards = [ShardedArrivals(model, index, count) for index in range(count)]  # type: ignore[arg-type]
    parts = [list(shard.offsets()) for shard in shards]
    assert sorted(itertools.chain.from_iterable(parts)) == whole  # no duplicate, no gap
    for index, part in enumerate(parts):
        assert part == whole[index::count]
        planned = shards[index].planned()
        assert planned is None or planned == len(part)


def test_constant_shard_sends_at_interleaved_offsets() -> None:
    rate, count = 100.0, 3
    shard = ShardedArrivals(ConstantArrivals(rate, duration=1.0), 2, count)
    assert list(shard.offsets())[:3] == pytest.approx([(k * count + 2) / rate for k in range(3)])
    assert "shard 2/3" in shard.describe()


def test_parse_shard_and_start_at() -> None:
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "a/2", "1", "0/0"):
        with pytest.raises(ConfigurationError, match="--shard"):
            parse_shard(bad)
    now = 1767225000.0
    assert parse_start_at("1767225600.5", now=now) == 1767225600.5
    assert parse_start_at("2026-01-01T00:00:00Z", now=now) == 1767225600.0
    assert parse_start_at("+30", now=now) == now + 30
    assert parse_start_at(None, lead=5, now=now) == now + 5
    with pytest.raises(ConfigurationError, match="needs a zone"):
        parse_start_at("2026-01-01T00:00:00")
    with pytest.raises(ConfigurationError, match="epoch seconds"):
        parse_start_at("soon")


def test_a_start_time_already_past_is_refused_naming_it_and_now() -> None:
    """A past start would run the shard after its entries' windows ended: next to nothing sent, and a pass."""
    now = 1767225600.0
    assert parse_start_at(f"{now - START_AT_TOLERANCE / 2}", now=now) == now - START_AT_TOLERANCE / 2
    for past, at in [("1767225590", "2025-12-31T23:59:50.000Z is 20.0s"),
                     ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z is 10.0s"), ("+-10", "00:00:00.000Z is 10.0s")]:
        with pytest.raises(ConfigurationError) as raised:
            parse_start_at(past, now=now + 10)
        message = str(raised.value)
        assert message.startswith(f"--start-at '{past}': ") and at in message
        assert "before now (2026-01-01T00:00:10.000Z)" in message


def test_pipeline_run_splits_runs_in_flight_and_names() -> None:
    entry = _entry({"mode": "EXPERIMENT", "startTime": 0, "runTime": 1, "numTimes": 5, "totalRuns": 9,
                    "experimentName": "exp", "maxPollsPerSecond": 20})
    shares = [share_entry(entry, index, 2) for index in range(2)]  # type: ignore[arg-type]
    assert [s.entry.num_times for s in shares] == [3, 2]  # type: ignore[union-attr]
    assert [s.entry.total_runs for s in shares] == [5, 4]  # type: ignore[union-attr]
    assert [s.entry.experiment_name for s in shares] == ["exp-shard0", "exp-shard1"]  # type: ignore[union-attr]
    assert shares[0].entry.max_polls_per_second == 10  # type: ignore[union-attr]
    none = share_entry(_entry({"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1, "numTimes": 1}), 1, 2)  # type: ignore[arg-type]
    assert none.entry is None and "nothing for shard 1" in (none.note or "")


def test_uploads_interleave_on_the_one_schedule() -> None:
    entry = _entry({"mode": "PIPELINE_UPLOAD", "startTime": 0, "runTime": "10s", "numTimes": 5})
    due = []
    for index in range(2):
        part = share_entry(entry, index, 2).entry  # type: ignore[arg-type]
        assert part is not None
        due += [part.start_time + j * part.run_time / part.num_times for j in range(part.num_times)]  # type: ignore[attr-defined]
    assert sorted(due) == pytest.approx([0, 2, 4, 6, 8])
    one = _entry({"mode": "PIPELINE_UPLOAD", "startTime": 0, "runTime": 1, "numTimes": 1})
    assert share_entry(one, 1, 2).entry is None  # type: ignore[arg-type]
    assert "one upload cannot be split" in (share_entry(one, 0, 2).note or "")  # type: ignore[arg-type]


def test_unsplittable_entries_run_on_shard_zero_and_say_so() -> None:
    scheduled = _entry({"mode": "PIPELINE_SCHEDULED_RUN", "startTime": 0, "runTime": 1, "intervalSeconds": 5})
    gets = _entry({"mode": "RANDOM_GETS", "startTime": 0, "runTime": 1, "arrival": "concurrent",
                   "concurrency": 3, "maxConcurrency": 10})
    scenario = Scenario(path=None, raw=[], entries=[scheduled, gets])  # type: ignore[list-item]
    first, second = plan_shard(scenario, 0, 2), plan_shard(scenario, 1, 2)
    assert [e.name for e in first.scenario.entries] == [scheduled.name, gets.name]  # type: ignore[attr-defined]
    assert [e.name for e in second.scenario.entries] == [gets.name]  # type: ignore[attr-defined]
    assert any("recurring run cannot be split" in note for note in first.notes())
    assert [p.scenario.entries[-1].concurrency for p in (first, second)] == [2, 1]  # type: ignore[attr-defined]


def test_random_gets_gets_a_shared_seed_and_llm_rates_divide() -> None:
    gets = _entry({"mode": "RANDOM_GETS", "startTime": 0, "runTime": 1, "rate": 100, "arrival": "poisson"})
    assert share_entry(gets, 1, 2, seed=42).entry.seed == 42  # type: ignore[arg-type, union-attr]
    llm = _entry({"mode": "LLM_LOAD", "startTime": 0, "runTime": 1, "rate": 6, "promptTokens": 8,
                  "outputTokens": 4})
    assert share_entry(llm, 1, 3).entry.rate == 2  # type: ignore[arg-type, union-attr]
    sweep = _entry({"mode": "LLM_LOAD", "startTime": 0, "runTime": 1, "rateType": "sweep", "rate": 3,
                    "promptTokens": 8, "outputTokens": 4})
    assert share_entry(sweep, 1, 2).entry is None  # type: ignore[arg-type]


def test_a_longer_tolerance_lets_a_late_pod_start() -> None:
    """Pods scheduled by a cluster get SCALE_OUT_START_TOLERANCE (``--start-tolerance``), not 1 s."""
    now = 1767225600.0
    assert parse_start_at(f"{now - 8}", now=now, tolerance=10) == now - 8
    with pytest.raises(ConfigurationError, match="more than the 10s allowed"):
        parse_start_at(f"{now - 12}", now=now, tolerance=10)
