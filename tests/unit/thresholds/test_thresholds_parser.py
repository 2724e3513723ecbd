"""The threshold language: parsing, units, and errors that name what is allowed."""

from __future__ import annotations

import re

import pytest

from perf_tests.errors import ScenarioError
from perf_tests.models.scenario_file import build_scenario
from perf_tests.runners.registry import options_models
from perf_tests.thresholds import METRIC_NAMES, check_thresholds, parse_threshold

PIPELINE_OPS = ("upload_pipeline", "create_run", "get_run", "time_to_running", "run_duration")


@pytest.mark.parametrize(
    ("text", "metric", "operation", "comparator", "value", "key"),
    [
        ("p95(create_run) < 2s", "p95", "create_run", "<", 2000.0, "p95_ms"),
        ("p99(get_run) < 500ms", "p99", "get_run", "<", 500.0, "p99_ms"),
        ("p95(run_duration) < 5m", "p95", "run_duration", "<", 300_000.0, "p95_ms"),
        ("max(run_duration) <= 1h", "max", "run_duration", "<=", 3_600_000.0, "max_ms"),
        ("avg(get_run) < 120", "avg", "get_run", "<", 120.0, "mean_ms"),
        ("mean(get_run)<1.5s", "mean", "get_run", "<", 1500.0, "mean_ms"),
        ("med(get_run) < 100ms", "med", "get_run", "<", 100.0, "p50_ms"),
        ("min(get_run) > 0", "min", "get_run", ">", 0.0, "min_ms"),
        ("p99.9(get_run) < 3s", "p99.9", "get_run", "<", 3000.0, "p99.9_ms"),
        ("P90( get_run ) < 2S", "p90", "get_run", "<", 2000.0, "p90_ms"),
        ("success_rate >= 0.99", "success_rate", None, ">=", 0.99, "success_rate"),
        ("success_rate(create_run) >= 99.5%", "success_rate", "create_run", ">=", 0.995, "success_rate"),
        ("error_rate < 1%", "error_rate", None, "<", 0.01, "error_rate"),
        ("rate(get_run) >= 190", "rate", "get_run", ">=", 190.0, "throughput"),
        ("rate(get_run) >= 120/m", "rate", "get_run", ">=", 2.0, "throughput"),
        ("rate > 0", "rate", None, ">", 0.0, "throughput"),
        ("count(create_run) >= 10", "count", "create_run", ">=", 10.0, "count"),
        ("failed(create_run) == 0", "failed", "create_run", "==", 0.0, "failed"),
        ("dropped == 0", "dropped", None, "==", 0.0, "dropped"),
        ("dropped(get_run) != 3", "dropped", "get_run", "!=", 3.0, "dropped"),
    ],
)
def test_thresholds_parse_to_canonical_units(text, metric, operation, comparator, value, key):
    threshold = parse_threshold(text)
    assert (threshold.metric, threshold.operation, threshold.comparator) == (metric, operation, comparator)
    assert threshold.value == pytest.approx(value)
    assert threshold.key == key
    assert threshold.text == text.strip()


def test_percent_limits_are_remembered_for_display():
    assert parse_threshold("success_rate >= 99%").percent is True
    assert parse_threshold("success_rate >= 0.99").percent is False


@pytest.mark.parametrize(
    ("text", "sign", "amount", "relative"),
    [
        ("p95(create_run) < baseline + 20%", 1, 0.2, True),
        ("p95(get_run) <= baseline + 50ms", 1, 50.0, False),
        ("rate(get_run) >= baseline - 5%", -1, 0.05, True),
        ("success_rate >= baseline", None, None, None),
    ],
)
def test_limits_relative_to_the_baseline(text, sign, amount, relative):
    threshold = parse_threshold(text)
    assert threshold.relative_to_baseline and threshold.value is None
    if sign is None:
        assert threshold.margin is None
        return
    assert threshold.margin is not None
    assert (threshold.margin.sign, threshold.margin.relative) == (sign, relative)
    assert threshold.margin.amount == pytest.approx(amount)
    assert threshold.margin.apply(100.0) == pytest.approx(
        100.0 * (1 + sign * amount) if relative else 100.0 + sign * amount)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p959(create_run) < 2s", "unknown metric 'p959'; valid metrics: avg, mean, med"),
        ("latency(create_run) < 2s", "valid metrics: " + ", ".join(METRIC_NAMES)),
        ("p95 < 2s", "p95 needs an operation, e.g. p95(upload_pipeline)"),
        ("p95() < 2s", "empty operation"),
        ("p95(create_run) < 2x", "p95 takes a duration like 500ms"),
        ("p95(create_run) < 2%", "'%' does not apply to p95"),
        ("count(create_run) > 5ms", "unit 'ms' does not apply to count"),
        ("rate(get_run) > 5ms", "rate takes operations per second"),
        ("success_rate >= 2", "must be a fraction from 0 to 1"),
        ("success_rate >= 120%", "above 100%"),
        ("p0(get_run) < 1s", "above p0"),
        ("p95(create_run) 2s", "is not of the form"),
        ("p95(create_run) =< 2s", "is not of the form"),
        ("", "non-empty string"),
    ],
)
def test_malformed_thresholds_say_what_is_allowed(text, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        parse_threshold(text, PIPELINE_OPS, "PIPELINE_RUN")


def test_unknown_operation_lists_the_operations_of_the_mode():
    with pytest.raises(ValueError, match="unknown operation 'creat_run' for mode PIPELINE_RUN") as info:
        parse_threshold("p95(creat_run) < 2s", PIPELINE_OPS, "PIPELINE_RUN")
    assert "valid operations: upload_pipeline, create_run, get_run" in str(info.value)


def test_without_a_list_of_operations_any_operation_name_is_accepted():
    assert parse_threshold("p99(ttft) < 1s").operation == "ttft"


def test_check_thresholds_reports_every_problem_at_once():
    with pytest.raises(ValueError, match="creat_run") as info:
        check_thresholds(["p95(creat_run) < 2s", "success_rate >= 0.99", "p959(get_run) < 1s"], PIPELINE_OPS)
    message = str(info.value)
    assert "creat_run" in message and "p959" in message and "success_rate >= 0.99" not in message


def _entry(thresholds):
    return [{"mode": "PIPELINE_RUN", "startTime": 0, "runTime": "6s", "numTimes": 2, "thresholds": thresholds}]


def test_a_misspelled_metric_fails_when_the_scenario_loads(tmp_path):
    with pytest.raises(ScenarioError) as info:
        build_scenario(_entry(["p959(create_run) < 2s"]), options_models(), tmp_path)
    message = str(info.value)
    assert "entry 0 (PIPELINE_RUN#0): field 'thresholds'" in message
    assert "unknown metric 'p959'; valid metrics: avg, mean, med, min, max, p50, p90, p95, p99, pNN" in message


def test_a_misspelled_operation_fails_when_the_scenario_loads_listing_the_modes_operations(tmp_path):
    with pytest.raises(ScenarioError) as info:
        build_scenario(_entry(["p95(create_runs) < 2s"]), options_models(), tmp_path)
    message = str(info.value)
    assert "unknown operation 'create_runs' for mode PIPELINE_RUN" in message
    assert "create_run, get_run, time_to_running, run_duration" in message


def test_valid_thresholds_load_stripped(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "pipeline_files").mkdir(parents=True)
    (data_dir / "pipeline_files" / "add_numbers.yaml").write_text("{}")
    scenario = build_scenario(_entry([" p95(create_run) < 2s ", "success_rate >= 99%"]), options_models(), data_dir)
    assert scenario.entries[0].thresholds == ["p95(create_run) < 2s", "success_rate >= 99%"]
