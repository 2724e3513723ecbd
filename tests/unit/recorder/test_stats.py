"""OperationStats: counts and HDR percentiles within the histogram's 0.1% resolution."""

import pytest

from perf_tests.recorder.stats import HISTOGRAM_MAX_US, OperationStats, new_histogram, to_us
from tests.unit.recorder.recorder_helpers import RESOLUTION, exact_percentile


def filled(durations_ms, failures=0):
    stats = OperationStats()
    for i, ms in enumerate(durations_ms):
        stats.add(1000.0 + i * 0.01, ms / 1000.0, True)
    for i in range(failures):
        stats.add(1000.0 + i, 0.5, False, "http_500" if i % 2 else None)
    return stats


@pytest.mark.parametrize("percentile", [50.0, 90.0, 95.0, 99.0])
def test_percentiles_are_within_resolution_of_exact(durations_ms, percentile):
    stats = filled(durations_ms)
    exact = exact_percentile(durations_ms, percentile)
    assert stats.percentile_ms(percentile) == pytest.approx(exact, rel=RESOLUTION)
    summary = stats.summary()
    assert summary[f"p{percentile:g}_ms"] == pytest.approx(exact, rel=RESOLUTION)


def test_min_mean_max_are_within_resolution(durations_ms):
    summary = filled(durations_ms).summary()
    assert summary["min_ms"] == pytest.approx(min(durations_ms), rel=RESOLUTION)
    assert summary["max_ms"] == pytest.approx(max(durations_ms), rel=RESOLUTION)
    assert summary["mean_ms"] == pytest.approx(sum(durations_ms) / len(durations_ms), rel=RESOLUTION)


def test_counts_success_rate_and_error_types(durations_ms):
    stats = filled(durations_ms, failures=4)
    summary = stats.summary()
    total = len(durations_ms) + 4
    assert (summary["count"], summary["ok"], summary["failed"]) == (total, len(durations_ms), 4)
    assert summary["success_rate"] == pytest.approx(len(durations_ms) / total)
    assert summary["errors"] == {"error": 2, "http_500": 2}


def test_failures_do_not_enter_the_duration_histogram():
    stats = OperationStats()
    stats.add(0.0, 0.010, True)
    stats.add(0.0, 50.0, False, "timeout")
    assert stats.summary()["max_ms"] == pytest.approx(10.0, rel=RESOLUTION)


def test_throughput_over_a_window_or_the_observed_span():
    stats = OperationStats()
    for i in range(10):
        stats.add(100.0 + i, 1.0, True)  # first start 100, last end 110
    assert stats.summary(window_seconds=20.0)["throughput"] == pytest.approx(0.5)
    assert stats.summary()["throughput"] == pytest.approx(1.0)
    assert sorted(stats.timeline) == list(range(100, 110))


def test_empty_stats_have_no_numbers():
    summary = OperationStats().summary()
    assert summary["count"] == 0
    assert summary["success_rate"] is None
    assert summary["throughput"] is None
    assert summary["p99_ms"] is None
    assert summary["mean_ms"] is None


def test_only_failures_have_counts_but_no_durations():
    stats = OperationStats()
    stats.add(5.0, 1.0, False, "timeout")
    summary = stats.summary(window_seconds=10.0)
    assert summary["success_rate"] == 0.0
    assert summary["p50_ms"] is None
    assert summary["throughput"] == pytest.approx(0.1)


def test_merge_second_adds_counts_histograms_values_and_counters(durations_ms):
    stats = OperationStats()
    histogram = new_histogram()
    for ms in durations_ms:
        histogram.record_value(to_us(ms / 1000.0))
    lateness = new_histogram()
    lateness.record_value(2000)
    stats.merge_second(7, len(durations_ms), histogram, {"timeout": 3}, {"lateness": lateness}, {"dropped": 2})
    stats.merge_second(8, 0, new_histogram(), {"timeout": 1}, {}, {"dropped": 1})
    summary = stats.summary()
    assert (summary["ok"], summary["failed"]) == (len(durations_ms), 4)
    assert summary["errors"] == {"timeout": 4}
    assert summary["dropped"] == 3
    assert summary["lateness"]["p99_ms"] == pytest.approx(2.0, rel=RESOLUTION)
    assert summary["p95_ms"] == pytest.approx(exact_percentile(durations_ms, 95), rel=RESOLUTION)
    assert (stats.timeline[7].ok, stats.timeline[7].failed, stats.timeline[8].failed) == (len(durations_ms), 3, 1)


def test_to_us_clamps_into_the_histogram_range():
    assert to_us(0.0) == 1
    assert to_us(-1.0) == 1
    assert to_us(0.0015) == 1500
    assert to_us(10 * 24 * 3600.0) == HISTOGRAM_MAX_US


def test_durations_longer_than_a_day_are_clamped_not_lost():
    stats = OperationStats()
    stats.add(0.0, 3 * 24 * 3600.0, True)
    assert stats.ok == 1
    assert stats.summary()["max_ms"] == pytest.approx(HISTOGRAM_MAX_US / 1000.0, rel=RESOLUTION)
