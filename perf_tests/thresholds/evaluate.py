"""Measuring thresholds against an entry's ``summary.json`` part, one ``Check`` per threshold.

How thresholds and the default checks combine (k6 lets thresholds replace the default; we go half way):

- ``ran`` always applies: an entry that could not run fails whatever its thresholds say.
- ``failures`` (any failed operation fails the entry, unless ``allowedFailureRate`` allows it) is
  replaced when a threshold judges failures itself (``success_rate``, ``error_rate`` or ``failed``,
  with or without an operation). Latency-only thresholds keep it, because durations are measured over
  successful attempts only: ``p95(create_run) < 2s`` alone would pass a run where most creates failed.
- A threshold whose metric has no data (``p95(create_run)`` when no create succeeded, ``success_rate``
  with no attempts) fails with "no data": a criterion that cannot be verified is not met. ``count``,
  ``failed``, ``dropped`` and ``rate`` of an operation that never happened are 0.
- A threshold relative to the baseline (``< baseline + 20%``) is skipped (passes, saying so) when no
  baseline was given or the baseline has no value for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from perf_tests.recorder.operation_summary import OperationSummary
from perf_tests.results.summary import ScenarioPart
from perf_tests.results.verdict import Check, EntryVerdict, ThresholdResult
from perf_tests.thresholds.parser import Threshold, parse_threshold
from perf_tests.thresholds.verdict import default_checks

__all__ = [
    "Judgement",
    "ThresholdEvaluation",
    "baseline_overrides",
    "evaluate_thresholds",
    "format_value",
    "judge_part",
    "judge_with_thresholds",
    "measure",
    "requested_percentiles",
]

_STANDARD_PERCENTILES = frozenset({"p50_ms", "p90_ms", "p95_ms", "p99_ms"})


def format_value(value: float | None, kind: str, percent: bool = False) -> str:
    """A measured or limit value for people: ``2.31s``, ``450ms``, ``185.2/s``, ``99.50%``, ``12``."""
    if value is None:
        return "-"
    if kind == "latency":
        if value >= 3_600_000:
            return f"{value / 3_600_000:.2f}h"
        if value >= 60_000:
            return f"{value / 60_000:.2f}m"
        if value >= 1000:
            return f"{value / 1000:.2f}s"
        if value >= 100:
            return f"{value:.0f}ms"
        return f"{value:.3g}ms"
    if kind == "rate":
        return f"{value:.4g}/s"
    if kind == "ratio":
        return f"{value * 100:.2f}%" if percent else f"{value:.4g}"
    return f"{value:g}"


@dataclass
class ThresholdEvaluation:
    """One threshold's outcome: what was measured, the limit it was held to, and whether it held."""

    threshold: Threshold
    scenario: str
    passed: bool
    measured: float | None
    limit: float | None
    message: str
    skipped: bool = False

    def check(self) -> Check:
        """The verdict check of this threshold (named by the threshold as written)."""
        return Check(self.threshold.text, self.passed, self.message, self.measured, self.limit)

    def result(self) -> ThresholdResult:
        """The ``thresholds[]`` item of the entry's ``summary.json`` part."""
        t = self.threshold
        return ThresholdResult(
            threshold=t.text,
            metric=t.metric,
            operation=t.operation,
            comparator=t.comparator,
            kind=t.kind,
            measured=self.measured,
            limit=self.limit,
            measured_text=format_value(self.measured, t.kind, t.percent),
            limit_text=self.limit_text,
            baseline=t.relative_to_baseline,
            passed=self.passed,
            skipped=self.skipped,
            message=self.message,
        )

    @property
    def limit_text(self) -> str:
        t = self.threshold
        if not t.relative_to_baseline:
            return t.limit_text
        if self.limit is None:
            return t.limit_text
        return f"{format_value(self.limit, t.kind, t.percent)} ({t.limit_text})"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def measure(part: ScenarioPart, threshold: Threshold) -> tuple[float | None, str]:
    """The threshold's metric in an entry's summary part, or (None, why there is no data)."""
    if threshold.prometheus_query is not None:
        return _measure_prometheus(part, threshold.prometheus_query, threshold.key)
    name = threshold.operation
    if name is not None:
        op = part.operations.get(name)
        if op is None:
            if threshold.kind in ("count", "rate"):
                return 0.0, ""
            return None, f"{name} was not recorded"
        return _measure_operation(part, op, name, threshold)
    return _measure_totals(part, threshold)


def _measure_prometheus(part: ScenarioPart, query: str, key: str) -> tuple[float | None, str]:
    """An aggregate of a Prometheus query over the entry's window (``part.prometheus``)."""
    observed = part.prometheus
    if observed is None or observed.status != "ok":
        message = observed.message if observed is not None else None
        return None, str(message or "no Prometheus query was made (set PROMETHEUS_URL)")
    result = observed.queries.get(query)
    aggregate = result.aggregate if result is not None else None
    value = _number(getattr(aggregate, key, None)) if aggregate is not None and key in _AGGREGATES else None
    if value is None:
        why = (result.message if result is not None else None) or "the query returned no sample in the entry's window"
        return None, f"prom:{query}: {why}"
    return value, ""


_AGGREGATES = frozenset({"min", "mean", "max", "last"})


def _measure_operation(
    part: ScenarioPart, op: OperationSummary, name: str, threshold: Threshold
) -> tuple[float | None, str]:
    if op.not_measured:  # the harness that ran does not measure this metric
        return None, f"{name} is {op.not_measured}"
    count = _number(op.count)
    failed = _number(op.failed) or 0.0
    if threshold.kind == "latency":
        value = _number(op.stat(threshold.key))
        if value is None and "." in threshold.key:
            value = _number(op.stat(threshold.key.replace(".", "")))  # GuideLLM names p99.9 'p999'
        if value is not None:
            return value, ""
        given = op.given()
        if op.source and threshold.key not in given:
            available = ", ".join(k.removesuffix("_ms") for k in given if k.startswith("p") and k.endswith("_ms"))
            return None, f"{threshold.metric} is not available for {name} (from {op.source}: {available})"
        return None, f"{name} recorded no successful attempt"
    if threshold.kind == "count":
        return _number(op.stat(threshold.key)) or 0.0, ""
    if threshold.kind == "rate":
        value = _number(op.throughput)
        if value is not None:
            return value, ""
        duration = _rate_window(part)
        if not count:
            return 0.0, ""
        if duration:
            return count / duration, ""
        return None, f"{name} has no time window to compute a rate over"
    success = _number(op.success_rate)
    if success is None and count:
        success = (count - failed) / count
    if success is None:
        return None, f"{name} recorded no attempts"
    return (success if threshold.metric == "success_rate" else 1.0 - success), ""


def _measure_totals(part: ScenarioPart, threshold: Threshold) -> tuple[float | None, str]:
    totals = part.totals
    count = _number(totals.count) or 0.0
    failed = _number(totals.failed) or 0.0
    if threshold.metric == "count":
        return count, ""
    if threshold.metric == "failed":
        return failed, ""
    if threshold.metric == "dropped":
        dropped = _number(totals.dropped) if "dropped" in totals.model_fields_set else None
        if dropped is None:
            dropped = sum(_number(op.dropped) or 0.0 for op in part.operations.values())
        return dropped, ""
    if threshold.metric == "rate":
        duration = _rate_window(part)
        if not count:
            return 0.0, ""
        if not duration:
            return None, "the entry has no time window to compute a rate over"
        return count / duration, ""
    if not count:
        return None, "the entry recorded no attempts"
    success = (count - failed) / count
    return (success if threshold.metric == "success_rate" else 1.0 - success), ""


def _rate_window(part: ScenarioPart) -> float | None:
    """Seconds a rate is per: the load's own window when the entry has one (``load_duration_s``), else the entry's."""
    load = _number(part.load_duration_s)
    return load if load is not None else _number(part.duration_s)


def _baseline_limit(threshold: Threshold, baseline_part: ScenarioPart | None) -> tuple[float | None, str]:
    if baseline_part is None:
        return None, "no baseline given"
    base, why = measure(baseline_part, threshold)
    if base is None:
        return None, f"the baseline has no value for {threshold.label} ({why})"
    return (threshold.margin.apply(base) if threshold.margin else base), ""


def evaluate_thresholds(
    part: ScenarioPart,
    thresholds: Iterable[str | Threshold],
    baseline_part: ScenarioPart | None = None,
) -> list[ThresholdEvaluation]:
    """Judge each threshold against the entry's summary part (and its baseline part, if any)."""
    scenario = part.name
    results = []
    for item in thresholds:
        threshold = item if isinstance(item, Threshold) else parse_threshold(item)
        results.append(_evaluate(scenario, part, threshold, baseline_part))
    return results


def _evaluate(
    scenario: str, part: ScenarioPart, threshold: Threshold, baseline_part: ScenarioPart | None
) -> ThresholdEvaluation:
    text = threshold.text
    if threshold.relative_to_baseline:
        limit, why = _baseline_limit(threshold, baseline_part)
        if limit is None:
            return ThresholdEvaluation(threshold, scenario, True, None, None, f"{scenario}: {text} skipped: {why}",
                                   skipped=True)
    else:
        limit = threshold.value
    assert limit is not None
    measured, why = measure(part, threshold)
    if measured is None:
        message = f"{scenario}: {text} failed: no data ({why})"
        return ThresholdEvaluation(threshold, scenario, False, None, limit, message)
    passed = threshold.holds(measured, limit)
    result = ThresholdEvaluation(threshold, scenario, passed, measured, limit, "")
    shown = format_value(measured, threshold.kind, threshold.percent)
    result.message = f"{scenario}: {text} {'passed' if passed else 'failed'}: measured {shown}, " \
                     f"limit {result.limit_text}"
    return result


def baseline_overrides(thresholds: Iterable[str | Threshold]) -> set[tuple[str, str | None]]:
    """(summary key, operation) pairs that baseline-relative thresholds judge themselves, so the global
    ``--max-regression`` comparison leaves them alone."""
    keys: set[tuple[str, str | None]] = set()
    for item in thresholds:
        threshold = item if isinstance(item, Threshold) else parse_threshold(item)
        if threshold.relative_to_baseline:
            keys.add((threshold.key, threshold.operation))
    return keys


def requested_percentiles(thresholds: Iterable[str | Threshold]) -> dict[str, dict[str, float]]:
    """The percentiles thresholds ask for beyond p50/p90/p95/p99 (e.g. ``p99.9(get_run)``), per operation
    (``{"get_run": {"p99.9_ms": 99.9}}``), for the summary to hold so that it alone can be judged again."""
    wanted: dict[str, dict[str, float]] = {}
    for item in thresholds:
        threshold = item if isinstance(item, Threshold) else parse_threshold(item)
        percentile = threshold.percentile
        if percentile is None or threshold.key in _STANDARD_PERCENTILES or threshold.operation is None:
            continue
        wanted.setdefault(threshold.operation, {})[threshold.key] = percentile
    return wanted


@dataclass
class Judgement:
    """An entry's checks (default and threshold ones) and its thresholds' outcomes (None without any)."""

    checks: list[Check]
    thresholds: list[ThresholdResult] | None


def judge_part(
    part: ScenarioPart,
    allowed_failure_rate: float,
    thresholds: Sequence[str],
    baseline_part: ScenarioPart | None = None,
) -> Judgement:
    """The default checks (see the module docstring for when thresholds replace 'failures') and one check
    per threshold of an entry's summary part."""
    parsed = [parse_threshold(text) for text in thresholds]
    checks = default_checks(part, allowed_failure_rate)
    if any(t.about_failures for t in parsed):
        checks = [check for check in checks if check.name != "failures"]
    results = evaluate_thresholds(part, parsed, baseline_part)
    checks.extend(result.check() for result in results)
    return Judgement(checks, [result.result() for result in results] if parsed else None)


def judge_with_thresholds(
    part: ScenarioPart,
    allowed_failure_rate: float,
    thresholds: Sequence[str],
    baseline_part: ScenarioPart | None = None,
) -> EntryVerdict:
    """The entry's verdict from its default and threshold checks (``judge_part``)."""
    checks = judge_part(part, allowed_failure_rate, thresholds, baseline_part).checks
    return EntryVerdict(part.name, part.mode, checks)
