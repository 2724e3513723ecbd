"""Baseline comparison: regressions and improvements beyond the tolerance, noise floors, verdict checks,
loading, and ``python -m perf_tests compare``."""

from __future__ import annotations

import copy
import json

import pytest

from perf_tests.baseline import (
    Baseline,
    BaselineOptions,
    compare_parts,
    compare_summaries,
    format_comparisons,
    load_summary,
    parse_tolerance,
)
from perf_tests.cli import main
from perf_tests.errors import ConfigurationError
from perf_tests.results import ScenarioPart
from perf_tests.results.read import validate_summary_document


def _op(count=200, failed=0, p50=100.0, p95=200.0, p99=300.0, rate=20.0):
    return {"count": count, "ok": count - failed, "failed": failed,
            "success_rate": (count - failed) / count if count else None, "throughput": rate,
            "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "errors": {}}


def _summary(run_id="old", **operations):
    ops = operations or {"create_run": _op(), "get_run": _op()}
    return {"schemaVersion": 1, "run_id": run_id, "start": None, "end": None, "scenarios": [
        {"name": "PIPELINE_RUN#0", "mode": "PIPELINE_RUN", "status": "passed", "operations": ops,
         "totals": {"count": 0, "failed": 0}},
    ]}


def _compare(old, new, options, **kwargs):
    """``compare_summaries`` of two summaries given as JSON (read as ``read_summary`` reads them)."""
    return compare_summaries(_document(old), _document(new), options, **kwargs)


def _document(summary):
    document, problems = validate_summary_document(summary)
    assert document is not None, problems
    return document


def _entry(summary):
    """The first entry of a summary given as JSON."""
    return ScenarioPart.model_validate(summary["scenarios"][0])


def _statuses(comparisons):
    return {(c.operation, c.metric): c.status for c in comparisons}


OPTIONS = BaselineOptions(tolerance=0.10, min_samples=10, floor_ms=1.0)


def test_the_same_numbers_are_unchanged():
    comparisons = _compare(_summary(), _summary("new"), OPTIONS)
    assert comparisons and all(c.status == "unchanged" for c in comparisons)


def test_slower_percentiles_lower_rate_and_success_are_regressions():
    new = _summary("new", create_run=_op(p50=150.0, p95=230.0, p99=320.0, rate=15.0, failed=20), get_run=_op())
    statuses = _statuses(_compare(_summary(), new, OPTIONS))
    assert statuses[("create_run", "p50")] == "regression"  # +50%
    assert statuses[("create_run", "p95")] == "regression"  # +15%
    assert statuses[("create_run", "p99")] == "unchanged"  # +6.7% is within 10%
    assert statuses[("create_run", "rate")] == "regression"  # -25%
    assert statuses[("create_run", "success_rate")] == "regression"  # 100% -> 90%
    assert statuses[("get_run", "p50")] == "unchanged"


def test_faster_numbers_are_improvements():
    new = _summary("new", create_run=_op(p50=50.0, rate=30.0), get_run=_op())
    statuses = _statuses(_compare(_summary(), new, OPTIONS))
    assert statuses[("create_run", "p50")] == "improvement"
    assert statuses[("create_run", "rate")] == "improvement"


def test_a_tolerance_of_50_percent_lets_a_40_percent_slowdown_pass():
    new = _summary("new", create_run=_op(p50=140.0), get_run=_op())
    assert _statuses(_compare(_summary(), new, BaselineOptions(tolerance=0.5)))[("create_run", "p50")] == \
        "unchanged"


def test_tiny_latencies_below_the_floor_are_noise():
    old = _summary(create_run=_op(p50=0.2, p95=0.3, p99=0.4))
    new = _summary("new", create_run=_op(p50=0.9, p95=1.2, p99=1.5))  # 4x slower, but under 1 ms more
    statuses = _statuses(_compare(old, new, OPTIONS))
    assert statuses[("create_run", "p50")] == "unchanged"
    assert statuses[("create_run", "p99")] == "regression"  # +1.1 ms is beyond the floor


def test_too_few_samples_are_skipped_and_percentiles_need_more():
    old = _summary(create_run=_op(count=15, p50=10.0, p95=20.0, p99=30.0))
    new = _summary("new", create_run=_op(count=15, p50=50.0, p95=90.0, p99=90.0))
    by_metric = {c.metric: c for c in _compare(old, new, OPTIONS)}
    assert by_metric["p50"].status == "regression"
    assert by_metric["p95"].status == "skipped" and "20 needed" in by_metric["p95"].reason
    assert by_metric["p99"].status == "skipped" and "100 needed" in by_metric["p99"].reason
    few = _compare(_summary(create_run=_op(count=5)), _summary("new", create_run=_op(count=5, p50=500.0)),
                            OPTIONS)
    assert all(c.status == "skipped" for c in few)


def test_rate_changes_within_counting_noise_are_not_regressions():
    old = _summary(create_run=_op(count=40, rate=4.0))
    new = _summary("new", create_run=_op(count=34, rate=3.4))  # -15%, but 2 sigma of 40 vs 34 counts is ~46%
    assert _statuses(_compare(old, new, OPTIONS))[("create_run", "rate")] == "unchanged"
    old = _summary(create_run=_op(count=4000, rate=400.0))
    new = _summary("new", create_run=_op(count=3400, rate=340.0))
    assert _statuses(_compare(old, new, OPTIONS))[("create_run", "rate")] == "regression"


def test_a_one_point_success_rate_wobble_is_noise():
    old = _summary(create_run=_op(count=1000, failed=0))
    new = _summary("new", create_run=_op(count=1000, failed=5))  # 99.5%
    assert _statuses(_compare(old, new, OPTIONS))[("create_run", "success_rate")] == "unchanged"


def test_operations_and_entries_in_only_one_summary_are_listed_as_skipped():
    old = _summary(create_run=_op(), delete_run=_op())
    new = _summary("new", create_run=_op(), list_runs=_op())
    new["scenarios"].append({"name": "EXPERIMENT#1", "mode": "EXPERIMENT", "operations": {}, "totals": {}})
    skipped = {(c.scenario, c.operation): c.reason for c in _compare(old, new, OPTIONS)
               if c.status == "skipped"}
    assert skipped[("PIPELINE_RUN#0", "delete_run")] == "not in this run"
    assert skipped[("PIPELINE_RUN#0", "list_runs")] == "not in the baseline"
    assert skipped[("EXPERIMENT#1", "*")] == "scenario entry not in the baseline"


def test_a_different_mode_is_not_compared():
    old = _summary()
    new = copy.deepcopy(old)
    new["scenarios"][0]["mode"] = "EXPERIMENT"
    (only,) = _compare(old, new, OPTIONS)
    assert only.status == "skipped" and "differs" in only.reason


def test_skip_leaves_metrics_to_baseline_thresholds():
    new = _entry(_summary("new", create_run=_op(p95=400.0), get_run=_op()))
    comparisons = compare_parts(_entry(_summary()), new, OPTIONS, skip={("p95_ms", "create_run")})
    assert ("create_run", "p95") not in _statuses(comparisons)


def test_baseline_judge_adds_checks_naming_the_regressed_operations_and_a_summary(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(_summary()))
    baseline = Baseline(path, OPTIONS)
    part = _entry(_summary("new", create_run=_op(p50=150.0), get_run=_op(p50=50.0)))
    compared, checks = baseline.compare(part)
    failed = [c for c in checks if not c.passed]
    assert [c.name for c in failed] == ["baseline p50(create_run)"]
    assert failed[0].message == ("PIPELINE_RUN#0: baseline p50(create_run) regressed: 100ms -> 150ms (+50.0%, "
                                 "tolerance 10%) against run old")
    assert failed[0].measured == 150.0 and failed[0].limit == pytest.approx(110.0)
    summary_check = checks[-1]
    assert summary_check.name == "baseline" and summary_check.passed
    assert "1 regressed, 1 improved (p50(get_run) 100ms -> 50ms (-50.0%" in summary_check.message
    assert compared.regressions == 1 and compared.run_id == "old"
    assert {c.status for c in compared.comparisons} == {"regression", "improvement", "unchanged"}
    assert part.baseline is None  # the entry's part is built with it, not patched


def test_format_comparisons_groups_skipped_metrics():
    new = _summary("new", create_run=_op(p50=150.0), get_run=_op(count=5))
    text = format_comparisons(_compare(_summary(get_run=_op(count=5), create_run=_op()), new, OPTIONS),
                              OPTIONS)
    assert "create_run                p50                 100ms      150ms   +50.0%  REGRESSION" in text
    assert "get_run                   all             skipped: too few samples (5 and 5; 10 needed)" in text
    assert text.splitlines()[-1] == "regressions: PIPELINE_RUN#0: p50(create_run)"


def test_load_summary_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_summary(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigurationError, match="is not JSON"):
        load_summary(bad)
    bad.write_text('{"a": 1}')
    with pytest.raises(ConfigurationError, match=r"not a perf-tests summary\.json"):
        load_summary(bad)
    (tmp_path / "summary.json").write_text(json.dumps(_summary()))
    assert load_summary(tmp_path).run_id == "old"  # a results directory works too


@pytest.mark.parametrize(("text", "value"), [("10%", 0.1), ("0.1", 0.1), ("2.5 %", 0.025), ("1", 1.0), (0.2, 0.2)])
def test_parse_tolerance(text, value):
    assert parse_tolerance(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["ten", "10", "-5%", "5000%"])
def test_parse_tolerance_rejects_unclear_values(text):
    with pytest.raises(ValueError, match=r"tolerance|ambiguous|too large"):
        parse_tolerance(text)


def test_compare_command_exits_1_and_names_regressions(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PERF_MAX_REGRESSION", raising=False)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_summary(create_run=_op(p95=100.0), get_run=_op(p50=10.0))))
    new.write_text(json.dumps(_summary("new", create_run=_op(p95=300.0), get_run=_op(p50=20.0))))
    assert main(["compare", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "regressions: PIPELINE_RUN#0: p95(create_run), PIPELINE_RUN#0: p50(get_run)" in out
    assert main(["compare", str(old), str(old)]) == 0
    assert main(["compare", str(old), str(new), "--max-regression", "500%"]) == 0
    assert main(["compare", str(old), str(new), "--max-regression", "lots"]) == 2
    assert "--max-regression: 'lots' is not a tolerance" in capsys.readouterr().err


def test_environment_sets_the_default_tolerance(tmp_path, capsys, monkeypatch):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_summary(create_run=_op(p50=100.0))))
    new.write_text(json.dumps(_summary("new", create_run=_op(p50=140.0))))
    monkeypatch.setenv("PERF_MAX_REGRESSION", "50%")
    assert main(["compare", str(old), str(new)]) == 0
    assert "tolerance 50%" in capsys.readouterr().out
    monkeypatch.setenv("PERF_MAX_REGRESSION", "much")
    assert main(["compare", str(old), str(new)]) == 2
    assert "PERF_MAX_REGRESSION='much'" in capsys.readouterr().err
