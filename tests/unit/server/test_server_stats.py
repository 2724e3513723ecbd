"""The simulator's per-route service times (``GET /_admin/stats`` ``service_ms``)."""

from __future__ import annotations

import random

import pytest

from perf_tests.server.stats import RequestStats, ServiceTimes


def test_percentiles_are_within_a_tenth_of_a_percent_of_the_exact_ones() -> None:
    rng = random.Random(7)
    values = sorted(rng.lognormvariate(6, 1.2) for _ in range(20_000))
    times = ServiceTimes()
    for value in values:
        times.record(value)
    for percent in (50, 90, 99):
        exact = values[int(len(values) * percent / 100) - 1]
        assert times.percentile(percent) == pytest.approx(exact, rel=0.0011)
    assert times.max == values[-1]
    assert times.count == len(values)


def test_times_below_one_microsecond_count_as_one() -> None:
    times = ServiceTimes()
    times.record(0.2)
    assert times.percentile(50) == 1.0


def test_the_snapshot_gives_each_route_count_mean_percentiles_and_max_in_ms() -> None:
    stats = RequestStats()
    for millis in (1, 2, 3, 4, 100):
        stats.observe("GET /apis/v2beta1/runs", millis / 1000)
    summary = stats.snapshot()["service_ms"]["GET /apis/v2beta1/runs"]
    assert summary["count"] == 5
    assert summary["mean"] == pytest.approx(22, rel=1e-3)
    assert summary["p50"] == pytest.approx(3, rel=0.0011)
    assert summary["p99"] == pytest.approx(100, rel=0.0011)
    assert summary["max"] == pytest.approx(100)
    stats.reset()
    assert stats.snapshot()["service_ms"] == {}
