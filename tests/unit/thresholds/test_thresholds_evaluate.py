"""Judging thresholds against an entry's summary part: measured values, limits, messages, no-data rules
and how thresholds combine with the default checks."""

from __future__ import annotations

import copy

import pytest

from perf_tests.recorder import OperationEvent, Recorder
from perf_tests.reports.summary import scenario_summary
from perf_tests.results import ScenarioPart
from perf_tests.thresholds import (
    baseline_overrides,
    evaluate_thresholds,
    format_value,
    judge_part,
    judge_with_thresholds,
    measure,
    parse_threshold,
    requested_percentiles,
)


def _op(count=10, failed=0, p95=None, **extra):
    ok = count - failed
    stats = {
        "count": count, "ok": ok, "failed": failed,
        "success_rate": ok / count if count else None,
        "throughput": count / 10.0,
        "min_ms": 5.0, "mean_ms": 50.0, "p50_ms": 40.0, "p90_ms": 80.0,
        "p95_ms": 90.0 if p95 is None else p95, "p99_ms": 120.0, "max_ms": 150.0,
        "errors": {"http_500": failed} if failed else {},
    }
    stats.update(extra)
    return stats


def _part_data(**operations):
    ops = operations or {"create_run": _op(), "get_run": _op(count=100)}
    count = sum(op.get("count", 0) for op in ops.values() if not op.get("source"))
    failed = sum(op.get("failed", 0) for op in ops.values() if not op.get("source"))
    dropped = sum(op.get("dropped", 0) for op in ops.values())
    return {
        "name": "PIPELINE_RUN#0", "mode": "PIPELINE_RUN", "status": "passed", "message": None,
        "duration_s": 10.0, "operations": ops,
        "totals": {"count": count, "failed": failed, "dropped": dropped},
    }


def _part(**operations):
    return ScenarioPart.model_validate(_part_data(**operations))


def _one(part, text, baseline=None):
    (result,) = evaluate_thresholds(part, [text], baseline)
    return result


def test_a_met_threshold_passes_with_measured_value_and_limit():
    result = _one(_part(), "p95(create_run) < 2s")
    assert result.passed and result.measured == 90.0 and result.limit == 2000.0
    assert result.message == "PIPELINE_RUN#0: p95(create_run) < 2s passed: measured 90ms, limit 2s"


def test_a_missed_threshold_fails_naming_scenario_threshold_measured_and_limit():
    result = _one(_part(create_run=_op(p95=2310.0)), "p95(create_run) < 2s")
    assert not result.passed
    assert result.message == "PIPELINE_RUN#0: p95(create_run) < 2s failed: measured 2.31s, limit 2s"
    check = result.check()
    assert (check.name, check.passed, check.measured, check.limit) == ("p95(create_run) < 2s", False, 2310.0, 2000.0)


@pytest.mark.parametrize(
    ("text", "measured", "passed"),
    [
        ("success_rate >= 0.99", 0.95, False),
        ("success_rate >= 95%", 0.95, True),
        ("error_rate < 1%", 0.05, False),
        ("count >= 100", 100.0, True),
        ("failed == 0", 5.0, False),
        ("rate >= 10", 10.0, True),
        ("dropped == 0", 3.0, False),
        ("failed(create_run) <= 5", 5.0, True),
        ("success_rate(get_run) == 1", 1.0, True),
        ("rate(get_run) >= 9/s", 9.0, True),
        ("count(get_run) > 90", 90.0, False),
        ("dropped(get_run) == 3", 3.0, True),
        ("avg(create_run) < 100", 50.0, True),
        ("max(create_run) <= 150ms", 150.0, True),
        ("p90(get_run) > 1s", 80.0, False),
    ],
)
def test_metrics_measure_the_summary(text, measured, passed):
    part = _part(create_run=_op(count=10, failed=5), get_run=_op(count=90, dropped=3))
    result = _one(part, text)
    assert result.measured == pytest.approx(measured)
    assert result.passed is passed


def test_latency_without_successes_fails_with_no_data():
    part = _part(create_run={**_op(count=3, failed=3), "p95_ms": None})
    result = _one(part, "p95(create_run) < 2s")
    assert not result.passed and result.measured is None
    assert result.message == ("PIPELINE_RUN#0: p95(create_run) < 2s failed: no data "
                              "(create_run recorded no successful attempt)")


def test_an_operation_that_never_happened_counts_zero_but_has_no_latency():
    part = _part()
    assert _one(part, "count(delete_run) == 0").passed
    assert _one(part, "rate(delete_run) < 1").measured == 0.0
    latency = _one(part, "p95(delete_run) < 1s")
    assert not latency.passed and "delete_run was not recorded" in latency.message
    assert not _one(part, "success_rate(delete_run) >= 0.9").passed


def test_entry_level_rates_need_attempts():
    empty = _part(create_run=_op(count=0))
    result = _one(empty, "success_rate >= 0.99")
    assert not result.passed and "no attempts" in result.message
    assert _one(empty, "rate >= 0").measured == 0.0


def test_rate_falls_back_to_count_over_the_window_when_the_summary_has_none():
    part = _part(upload_pipeline=_op(count=5, throughput=None))
    assert _one(part, "rate(upload_pipeline) >= 0.5").measured == pytest.approx(0.5)


def test_rates_without_a_throughput_are_per_second_of_the_load_window_when_there_is_one():
    part = ScenarioPart.model_validate({**_part_data(upload_pipeline=_op(count=5, throughput=None)),
                                        "load_duration_s": 2.0})
    assert _one(part, "rate(upload_pipeline) >= 0.5").measured == pytest.approx(2.5)
    assert _one(part, "rate >= 0").measured == pytest.approx(part.totals.count / 2.0)


def test_statistics_from_elsewhere_name_the_percentiles_they_have():
    ttft = {"p50_ms": 100.0, "p90_ms": 200.0, "p95_ms": 300.0, "p99_ms": 900.0, "source": "guidellm"}
    data = _part_data(ttft=ttft)
    part = ScenarioPart.model_validate(data)
    assert _one(part, "p99(ttft) < 1s").passed
    missing = _one(part, "p75(ttft) < 1s")
    assert not missing.passed
    assert "p75 is not available for ttft (from guidellm: p50, p90, p95, p99)" in missing.message
    data["operations"]["ttft"]["p999_ms"] = 950.0  # GuideLLM's name for p99.9
    assert _one(ScenarioPart.model_validate(data), "p99.9(ttft) < 1s").measured == 950.0


def test_thresholds_go_into_the_summary_part_with_display_texts():
    part = _part()
    thresholds = judge_part(part, 0.0, ["p95(create_run) < 2s", "success_rate >= 99%"]).thresholds
    assert thresholds is not None
    first, second = thresholds
    assert first.threshold == "p95(create_run) < 2s" and first.kind == "latency"
    assert (first.measured_text, first.limit_text, first.passed) == ("90ms", "2s", True)
    assert (second.measured_text, second.limit_text) == ("100.00%", "99%")
    assert part.thresholds is None  # judging reads the part, it does not patch it


def test_without_thresholds_the_default_verdict_stays():
    part = _part(create_run=_op(count=10, failed=1))
    verdict = judge_with_thresholds(part, 0.0, [])
    assert [c.name for c in verdict.checks] == ["ran", "failures"]
    assert not verdict.passed
    assert judge_part(part, 0.0, []).thresholds is None
    assert judge_with_thresholds(_part(create_run=_op(count=10, failed=1)), 0.2, []).passed


def test_latency_thresholds_keep_the_failures_check():
    part = _part(create_run=_op(count=10, failed=1))
    verdict = judge_with_thresholds(part, 0.0, ["p95(create_run) < 2s"])
    assert [c.name for c in verdict.checks] == ["ran", "failures", "p95(create_run) < 2s"]
    assert [c.name for c in verdict.failures()] == ["failures"]


@pytest.mark.parametrize("threshold", ["success_rate >= 0.9", "error_rate(create_run) < 20%", "failed <= 1"])
def test_thresholds_about_failures_replace_the_failures_check(threshold):
    part = _part(create_run=_op(count=10, failed=1))
    verdict = judge_with_thresholds(part, 0.0, [threshold])
    assert [c.name for c in verdict.checks] == ["ran", threshold]
    assert verdict.passed


def test_an_entry_that_could_not_run_fails_whatever_its_thresholds_say():
    part = ScenarioPart.model_validate({**_part_data(), "status": "error", "message": "target refused"})
    verdict = judge_with_thresholds(part, 0.0, ["success_rate >= 0"])
    assert not verdict.passed and verdict.failures()[0].name == "ran"


def test_baseline_relative_thresholds_are_skipped_without_a_baseline():
    result = _one(_part(), "p95(create_run) < baseline + 20%")
    assert result.passed and result.skipped
    assert result.message == "PIPELINE_RUN#0: p95(create_run) < baseline + 20% skipped: no baseline given"


def test_baseline_relative_thresholds_compare_with_the_baseline_value():
    baseline = _part(create_run=_op(p95=70.0))
    result = _one(_part(create_run=_op(p95=90.0)), "p95(create_run) < baseline + 20%", baseline)
    assert not result.passed and result.limit == pytest.approx(84.0)
    assert result.message == ("PIPELINE_RUN#0: p95(create_run) < baseline + 20% failed: measured 90ms, "
                              "limit 84ms (baseline + 20%)")
    assert _one(_part(create_run=_op(p95=90.0)), "p95(create_run) <= baseline + 25ms", baseline).passed
    missing = _one(_part(), "p95(delete_run) < baseline", baseline)
    assert missing.skipped and "the baseline has no value for p95(delete_run)" in missing.message


def test_baseline_overrides_name_the_metrics_thresholds_judge_themselves():
    assert baseline_overrides(["p95(create_run) < baseline + 20%", "p99(get_run) < 1s", "rate >= baseline"]) == {
        ("p95_ms", "create_run"), ("throughput", None)}


def test_extra_percentiles_are_filled_in_from_the_recorder():
    recorder = Recorder()
    for i in range(1000):
        recorder(OperationEvent("PIPELINE_RUN#0", "PIPELINE_RUN", "get_run", 1000.0 + i, (i + 1) / 1000.0, True))
    thresholds = ["p99.9(get_run) < 2s", "p95(get_run) < 1s", "p99.5(create_run) < 1s"]
    assert requested_percentiles(thresholds) == {"get_run": {"p99.9_ms": 99.9}, "create_run": {"p99.5_ms": 99.5}}
    record = recorder.scenarios["PIPELINE_RUN#0"]
    part = scenario_summary(record, percentiles=requested_percentiles(thresholds))
    assert part.operations["get_run"].stat("p99.9_ms") == pytest.approx(999.0, rel=0.01)
    assert part.operations["get_run"].p95_ms == pytest.approx(950.0, rel=0.01)  # as summarised
    assert "create_run" not in part.operations  # not recorded: nothing to fill in
    assert _one(part, "p99.9(get_run) < 2s").passed


def test_measure_does_not_change_the_part():
    part = _part()
    before = copy.deepcopy(part)
    measure(part, parse_threshold("rate(upload_pipeline) > 1"))
    assert part == before


@pytest.mark.parametrize(
    ("value", "kind", "percent", "expected"),
    [
        (0.42, "latency", False, "0.42ms"), (12.34, "latency", False, "12.3ms"), (450.2, "latency", False, "450ms"),
        (2310.0, "latency", False, "2.31s"), (90_000.0, "latency", False, "1.50m"),
        (7_200_000.0, "latency", False, "2.00h"), (185.23, "rate", False, "185.2/s"), (0.985, "ratio", False, "0.985"),
        (0.985, "ratio", True, "98.50%"), (12.0, "count", False, "12"), (None, "latency", False, "-"),
    ],
)
def test_format_value(value, kind, percent, expected):
    assert format_value(value, kind, percent) == expected
