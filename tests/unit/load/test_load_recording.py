"""The PerSecondAggregator's fast recording path gives the same histograms as HdrHistogram.record_value."""

from __future__ import annotations

import random

import pytest

from perf_tests.recorder import EventHook, PerSecondAggregator, Recorder
from perf_tests.recorder.per_second import _Filling, _to_us
from perf_tests.recorder.stats import HISTOGRAM_MAX_US, new_histogram


def test_fast_path_matches_record_value_across_the_whole_range():
    rng = random.Random(3)
    values = [1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 65_535, 10**6, HISTOGRAM_MAX_US - 1, HISTOGRAM_MAX_US]
    values += [int(10 ** rng.uniform(0, 10.9)) for _ in range(20_000)]
    filling, reference = _Filling(), new_histogram()
    for value in values:
        filling.add(value)
        reference.record_value(value)
    histogram = filling.done()
    assert list(histogram.counts) == list(reference.counts)
    assert histogram.get_total_count() == reference.get_total_count() == len(values)
    assert histogram.get_min_value() == reference.get_min_value()
    assert histogram.get_max_value() == reference.get_max_value()
    for percentile in (50, 90, 99, 99.9):
        assert histogram.get_value_at_percentile(percentile) == reference.get_value_at_percentile(percentile)
    assert histogram.encode() == reference.encode()


def test_microseconds_are_rounded_and_clamped():
    assert _to_us(0.0000014) == 1
    assert _to_us(0.0000016) == 2
    assert _to_us(0.0) == 1
    assert _to_us(-5.0) == 1
    assert _to_us(10**9) == HISTOGRAM_MAX_US


def test_aggregates_merge_into_the_recorder():
    hook = EventHook()
    recorder = Recorder()
    hook.add_listener(recorder)
    stream = PerSecondAggregator(hook, "s", "M")
    for i in range(3000):
        stream.record("op", 100.0 + i / 1000, (i % 100 + 1) / 1000, True, values={"lateness": 0.0001})
    stream.flush()
    stats = recorder.scenarios["s"].operations["op"]
    assert stats.ok == 3000
    assert len(stats.timeline) == 3
    summary = stats.summary()
    assert summary["p50_ms"] == pytest.approx(50, abs=0.1)
    assert summary["max_ms"] == pytest.approx(100, rel=0.001)
    assert summary["lateness"]["p99_ms"] == pytest.approx(0.1)


def test_a_late_completion_in_an_already_flushed_second_is_still_counted_once():
    seen = []
    hook = EventHook()
    hook.add_listener(seen.append)
    stream = PerSecondAggregator(hook, "s", "M")
    stream.record("op", 10.2, 0.01, True)
    stream.flush(before=11.0)
    stream.record("op", 10.9, 2.0, True)  # started in second 10, answered after it was handed over
    stream.flush()
    assert [(a.second, a.ok) for a in seen] == [(10, 1), (10, 1)]


def _fill(stream: PerSecondAggregator, second: int, durations: list[float]) -> None:
    for index, duration in enumerate(durations):
        stream.record("op", second + index / (len(durations) + 1), duration, True, values={"lateness": duration / 10})


def test_histograms_no_listener_kept_are_cleared_and_reused():
    merged = []
    hook = EventHook()
    hook.add_listener(lambda record: merged.append((record.histogram.encode(), record.values["lateness"].encode())))
    stream = PerSecondAggregator(hook, "s", "M")
    first = [0.001 * (i + 1) for i in range(500)]
    second = [0.0005, 0.2, 3.0]
    _fill(stream, 10, first)
    stream.flush()
    assert len(stream._spare) == 2  # the main and the lateness histogram came back
    _fill(stream, 11, second)
    assert not stream._spare  # ... and are in use again
    stream.flush()
    # The reused histograms hold exactly the new second's values, as fresh ones would.
    fresh, fresh_lateness = new_histogram(), new_histogram()
    for duration in second:
        fresh.record_value(_to_us(duration))
        fresh_lateness.record_value(_to_us(duration / 10))
    assert merged[1] == (fresh.encode(), fresh_lateness.encode())


def test_histograms_a_listener_kept_are_never_reused():
    kept = []
    hook = EventHook()
    hook.add_listener(kept.append)
    stream = PerSecondAggregator(hook, "s", "M")
    _fill(stream, 10, [0.001, 0.002])
    stream.flush()
    assert not stream._spare
    _fill(stream, 11, [5.0])
    stream.flush()
    assert kept[0].histogram is not kept[1].histogram
    assert kept[0].histogram.get_total_count() == 2
    assert kept[0].histogram.get_max_value() == 2000
