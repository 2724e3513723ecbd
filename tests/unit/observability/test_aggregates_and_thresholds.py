"""Aggregates of series, prom:<query> thresholds against them, and "no data" that is never zero."""

import pytest

from perf_tests.observability.models import EntryObservation, QueryResult, Series, Window, aggregate, parse_matrix
from perf_tests.results import EntryStatus, ScenarioPart, Totals
from perf_tests.thresholds.evaluate import judge_with_thresholds
from perf_tests.thresholds.parser import parse_threshold


def test_aggregate_over_every_series_and_the_last_value():
    series = parse_matrix([
        {"metric": {"pod": "a"}, "values": [[10, "1"], [11, "3"], [12, "NaN"]]},
        {"metric": {"pod": "b"}, "values": [[10, "2"], [11, "5"]]},
    ])
    result = aggregate(series)
    assert result is not None
    assert (result.min, result.max, result.mean, result.samples, result.series) == (1, 5, 2.75, 4, 2)
    assert result.last == 5  # the latest timestamp with a value (11): the larger of the two


def test_no_sample_is_no_aggregate():
    assert aggregate([Series(labels={}, values=[(1.0, None)])]) is None
    assert aggregate([]) is None


def _part(queries):
    observation = EntryObservation(entry="e", status="ok", url="http://p", step_s=1.0,
                                   windows=[Window(name="e", start=0, end=10, queries=queries)])
    return ScenarioPart(name="e", mode="LLM_LOAD", status=EntryStatus.PASSED, totals=Totals(count=1, failed=0),
                        prometheus=observation.summary())


def _ok(name, values):
    series = [Series(values=[(float(i), v) for i, v in enumerate(values)])]
    return QueryResult(name=name, expr="x", status="ok", aggregate=aggregate(series), series=series)


def test_thresholds_on_series_pass_and_fail_with_the_measured_value():
    part = _part([_ok("waiting", [0, 4, 9]), _ok("kv_cache", [0.9, 0.95]), _ok("replicas", [1, 2])])
    verdict = judge_with_thresholds(part, 0.0, ["max(prom:waiting) < 10", "avg(prom:kv_cache) < 0.9",
                                                "last(prom:replicas) >= 2"])
    checks = {c.name: c for c in verdict.checks}
    assert checks["max(prom:waiting) < 10"].passed
    assert not checks["avg(prom:kv_cache) < 0.9"].passed
    assert "measured 0.925, limit 0.9" in checks["avg(prom:kv_cache) < 0.9"].message
    assert checks["last(prom:replicas) >= 2"].passed


def test_no_data_fails_as_no_data_not_as_zero():
    part = _part([QueryResult(name="waiting", expr="x", status="no_data", message="no data: nothing")])
    check = judge_with_thresholds(part, 0.0, ["max(prom:waiting) < 10"]).checks[-1]
    assert not check.passed
    assert "no data" in check.message
    assert check.measured is None


def test_without_prometheus_the_threshold_says_to_set_the_url():
    part = ScenarioPart(name="e", status=EntryStatus.PASSED, totals=Totals(count=1, failed=0),
                        prometheus=EntryObservation(entry="e", status="not_configured",
                                                    message="PROMETHEUS_URL is not set: no Prometheus query was made")
                        .summary())
    check = judge_with_thresholds(part, 0.0, ["max(prom:waiting) < 10"]).checks[-1]
    assert not check.passed and "PROMETHEUS_URL is not set" in check.message


@pytest.mark.parametrize(("text", "said"), [
    ("p95(prom:waiting) < 1", "use one of min, max, avg, mean, last"),
    ("max(prom:waiting) < baseline", "cannot be compared with the baseline"),
    ("last(get_run) < 1", "last applies to Prometheus queries only"),
    ("max(prom:waiting) < 2s", "plain number"),
])
def test_bad_prometheus_thresholds(text, said):
    with pytest.raises(ValueError, match="threshold") as info:
        parse_threshold(text)
    assert said in str(info.value)
