"""Comparing a run with a baseline (an earlier ``summary.json``), scenario by scenario and operation by
operation.

Compared per operation: ``p50``, ``p95`` and ``p99`` of the durations (higher is worse), ``rate`` (the
throughput; lower is worse) and ``success_rate`` (lower is worse). A metric regressed when it is worse
than the baseline by more than the tolerance (``--max-regression``, default 10%), and improved when it
is better by as much. Small numbers are noisy, so:

- a latency change is ignored unless it is also at least ``floor_ms`` (default 1 ms) in absolute terms;
- a success-rate change is ignored unless the share of failures moved by at least one percentage point;
- a rate change is ignored unless it is also beyond two standard deviations of counting (Poisson) noise,
  ``2 * sqrt(1/n_baseline + 1/n_run)`` relative (about 9% with 1000 attempts each, 89% with 10);
- an operation is compared only when both runs have at least ``min_samples`` attempts (default 10); a
  percentile needs enough samples to differ from the maximum as well (20 for p95, 100 for p99);
- operations or scenarios present in only one of the two summaries are listed as skipped.

A threshold relative to the baseline (``p95(create_run) < baseline + 20%``) replaces the global
comparison of its metric and operation.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from perf_tests.baseline.settings import BaselineOptions
from perf_tests.errors import ConfigurationError
from perf_tests.recorder.operation_summary import OperationSummary
from perf_tests.results.read import read_summary
from perf_tests.results.summary import ScenarioPart, SummaryDocument
from perf_tests.results.verdict import BaselineComparison, BaselinePart, Check
from perf_tests.thresholds.evaluate import format_value

__all__ = [
    "COMPARED_METRICS",
    "Baseline",
    "Comparison",
    "compare_parts",
    "compare_summaries",
    "comparison_checks",
    "format_comparisons",
    "load_summary",
]

Status = Literal["regression", "improvement", "unchanged", "skipped"]

# (name, summary key, kind, True when higher is worse)
COMPARED_METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("p50", "p50_ms", "latency", True),
    ("p95", "p95_ms", "latency", True),
    ("p99", "p99_ms", "latency", True),
    ("rate", "throughput", "rate", False),
    ("success_rate", "success_rate", "ratio", False),
)
_SUCCESS_RATE_FLOOR = 0.01


def load_summary(path: str | Path, role: str = "baseline") -> SummaryDocument:
    """Read a ``summary.json`` (or the one in a results directory), checked; ``ConfigurationError`` naming
    the file as ``role`` (``baseline`` or ``run``) and what is wrong if it is not one."""
    try:
        return read_summary(path, role)
    except FileNotFoundError as exc:
        which = "a previous run's" if role == "baseline" else "a run's"
        raise ConfigurationError(f"{role} {exc.filename or path} does not exist; give {which} summary.json "
                                 "(or its results directory)") from None


@dataclass
class Comparison:
    """One metric of one operation of one scenario, in the baseline and in this run."""

    scenario: str
    operation: str
    metric: str
    kind: str
    old: float | None
    new: float | None
    status: Status
    tolerance: float
    limit: float | None = None
    reason: str = ""

    @property
    def label(self) -> str:
        return f"{self.metric}({self.operation})"

    @property
    def change(self) -> float | None:
        """Relative change from the baseline (+0.5 = 50% higher), None when not computable."""
        if self.old is None or self.new is None or self.old == 0:
            return None
        return (self.new - self.old) / abs(self.old)

    def describe(self) -> str:
        """E.g. ``p95(create_run) 120ms -> 180ms (+50.0%, tolerance 10%)``."""
        if self.status == "skipped":
            return f"{self.label} skipped: {self.reason}"
        old = format_value(self.old, self.kind, percent=self.kind == "ratio")
        new = format_value(self.new, self.kind, percent=self.kind == "ratio")
        change = self.change
        shown = f"{change:+.1%}" if change is not None else "n/a"
        return f"{self.label} {old} -> {new} ({shown}, tolerance {self.tolerance:.0%})"

    def result(self) -> BaselineComparison:
        """The ``baseline.comparisons[]`` item of the entry's ``summary.json`` part."""
        return BaselineComparison(operation=self.operation, metric=self.metric, kind=self.kind, baseline=self.old,
                                  value=self.new, change=self.change, status=self.status, limit=self.limit,
                                  reason=self.reason)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _samples(op: OperationSummary, kind: str) -> float | None:
    count = _number(op.count)
    if kind == "latency":
        ok = _number(op.ok)
        if ok is not None:
            return ok
        failed = _number(op.failed) or 0.0
        return None if count is None else count - failed
    return count


def _needed(metric: str, options: BaselineOptions) -> int:
    if metric.startswith("p") and metric[1:].replace(".", "", 1).isdigit():
        share = 1.0 - float(metric[1:]) / 100.0
        return max(options.min_samples, math.ceil(1.0 / share) if share > 0 else options.min_samples)
    return options.min_samples


def _judge(
    scenario: str,
    operation: str,
    metric: str,
    kind: str,
    higher_is_worse: bool,
    old: float,
    new: float,
    options: BaselineOptions,
    samples: tuple[float, float] | None = None,
) -> Comparison:
    tol = options.tolerance
    if kind == "ratio":
        # Judge the share of failures: 99% -> 98% success doubles the failures, and a tiny move is noise.
        old_bad, new_bad = 1.0 - old, 1.0 - new
        limit = 1.0 - max(old_bad * (1.0 + tol), old_bad + _SUCCESS_RATE_FLOOR)
        if new_bad - old_bad >= _SUCCESS_RATE_FLOOR and new_bad > old_bad * (1.0 + tol):
            status: Status = "regression"
        elif old_bad - new_bad >= _SUCCESS_RATE_FLOOR and new_bad < old_bad * (1.0 - tol):
            status = "improvement"
        else:
            status = "unchanged"
        return Comparison(scenario, operation, metric, kind, old, new, status, tol, limit)
    floor = options.floor_ms if kind == "latency" else 0.0
    if kind == "rate" and samples is not None and all(n > 0 for n in samples):
        floor = 2.0 * math.sqrt(1.0 / samples[0] + 1.0 / samples[1]) * abs(old)
    if higher_is_worse:
        limit = max(old * (1.0 + tol), old + floor)
        worse = new > old * (1.0 + tol) and new - old >= floor
        better = new < old * (1.0 - tol) and old - new >= floor
    else:
        limit = min(old * (1.0 - tol), old - floor)
        worse = new < old * (1.0 - tol) and old - new >= floor
        better = new > old * (1.0 + tol) and new - old >= floor
    status = "regression" if worse else "improvement" if better else "unchanged"
    return Comparison(scenario, operation, metric, kind, old, new, status, tol, limit)


def compare_parts(
    old_part: ScenarioPart,
    new_part: ScenarioPart,
    options: BaselineOptions,
    skip: Collection[tuple[str, str | None]] = (),
) -> list[Comparison]:
    """Compare one scenario entry's operations; ``skip`` holds (summary key, operation) pairs that a
    baseline-relative threshold judges instead."""
    scenario = new_part.name
    old_ops, new_ops = old_part.operations, new_part.operations
    tol = options.tolerance
    results: list[Comparison] = []
    if old_part.mode and new_part.mode and old_part.mode != new_part.mode:
        return [Comparison(scenario, "*", "*", "", None, None, "skipped", tol,
                           reason=f"mode {new_part.mode} differs from the baseline's {old_part.mode}")]
    for operation in sorted(set(old_ops) | set(new_ops)):
        if operation not in old_ops or operation not in new_ops:
            where = "the baseline" if operation not in old_ops else "this run"
            results.append(Comparison(scenario, operation, "*", "", None, None, "skipped", tol,
                                      reason=f"not in {where}"))
            continue
        old_op, new_op = old_ops[operation], new_ops[operation]
        for metric, key, kind, higher_is_worse in COMPARED_METRICS:
            if (key, operation) in skip:
                continue
            old, new = _number(old_op.stat(key)), _number(new_op.stat(key))
            if old is None or new is None:
                continue  # not measured for this operation (e.g. no rate for cleanup calls)
            needed = _needed(metric, options)
            samples = [_samples(op, kind) for op in (old_op, new_op)]
            if any(s is not None and s < needed for s in samples):
                shown = " and ".join(f"{s:g}" for s in samples if s is not None)
                results.append(Comparison(scenario, operation, metric, kind, old, new, "skipped", tol,
                                          reason=f"too few samples ({shown}; {needed} needed)"))
                continue
            counts = (samples[0], samples[1]) if samples[0] is not None and samples[1] is not None else None
            results.append(_judge(scenario, operation, metric, kind, higher_is_worse, old, new, options, counts))
    return results


def compare_summaries(
    old: SummaryDocument,
    new: SummaryDocument,
    options: BaselineOptions,
    skip: Mapping[str, Collection[tuple[str, str | None]]] | None = None,
) -> list[Comparison]:
    """Compare every scenario entry of ``new`` with the entry of the same name in ``old``."""
    results: list[Comparison] = []
    for part in new.scenarios:
        old_part = old.part(part.name)
        if old_part is None:
            results.append(Comparison(part.name, "*", "*", "", None, None, "skipped", options.tolerance,
                                      reason="scenario entry not in the baseline"))
            continue
        results.extend(compare_parts(old_part, part, options, (skip or {}).get(part.name, ())))
    return results


def comparison_checks(scenario: str, comparisons: Iterable[Comparison], baseline_label: str) -> list[Check]:
    """Verdict checks: one failing check per regression and one passing 'baseline' check that sums up
    (including the improvements)."""
    items = list(comparisons)
    checks: list[Check] = []
    for item in items:
        if item.status == "regression":
            checks.append(Check(
                f"baseline {item.label}",
                False,
                f"{scenario}: baseline {item.label} regressed: {item.describe().removeprefix(item.label + ' ')} "
                f"against {baseline_label}",
                item.new,
                item.limit,
            ))
    compared = [i for i in items if i.status != "skipped"]
    regressions = [i for i in items if i.status == "regression"]
    improvements = [i for i in items if i.status == "improvement"]
    skipped = [i for i in items if i.status == "skipped"]
    text = f"{scenario}: baseline {baseline_label}: {len(compared)} compared, {len(regressions)} regressed, " \
           f"{len(improvements)} improved"
    if improvements:
        text += " (" + "; ".join(i.describe() for i in improvements) + ")"
    if skipped:
        text += f", {len(skipped)} skipped"
    checks.append(Check("baseline", True, text, float(len(regressions)), 0.0))
    return checks


class Baseline:
    """A loaded baseline summary and the options to compare with it."""

    def __init__(self, path: str | Path, options: BaselineOptions | None = None,
                 summary: SummaryDocument | None = None) -> None:
        self.path = Path(path)
        self.options = options or BaselineOptions()
        self.summary: SummaryDocument = summary if summary is not None else load_summary(self.path)

    @property
    def label(self) -> str:
        """How reports name the baseline: its run id, or its path."""
        return f"run {self.summary.run_id}" if self.summary.run_id else str(self.path)

    def part(self, name: str) -> ScenarioPart | None:
        """The baseline's summary part of the scenario entry ``name``."""
        return self.summary.part(name)

    def compare(self, part: ScenarioPart, skip: Collection[tuple[str, str | None]] = (),
                ) -> tuple[BaselinePart, list[Check]]:  # fmt: skip
        """One entry's summary part against the baseline: the entry's ``baseline`` and its verdict checks."""
        name = part.name
        old = self.part(name)
        if old is None:
            comparisons = [Comparison(name, "*", "*", "", None, None, "skipped", self.options.tolerance,
                                      reason="scenario entry not in the baseline")]
        else:
            comparisons = compare_parts(old, part, self.options, skip)
        compared = BaselinePart(
            path=str(self.path),
            run_id=self.summary.run_id,
            tolerance=self.options.tolerance,
            min_samples=self.options.min_samples,
            floor_ms=self.options.floor_ms,
            regressions=sum(1 for c in comparisons if c.status == "regression"),
            improvements=sum(1 for c in comparisons if c.status == "improvement"),
            comparisons=[c.result() for c in comparisons],
        )
        return compared, comparison_checks(name, comparisons, self.label)


def format_comparisons(comparisons: Iterable[Comparison], options: BaselineOptions,
                       old_label: str = "baseline", new_label: str = "run") -> str:
    """A fixed-width table of a comparison, one block per scenario entry, for the console; the skipped
    metrics of an operation share one line."""
    items = list(comparisons)
    lines = [f"{new_label} against {old_label}: tolerance {options.tolerance:.0%}, latency floor "
             f"{options.floor_ms:g}ms, at least {options.min_samples} samples"]
    header = f"  {'operation':<26}{'metric':<14}{'baseline':>11}{'run':>11}{'change':>9}  status"
    groups: dict[tuple[str, str], list[Comparison]] = {}
    for item in items:
        groups.setdefault((item.scenario, item.operation), []).append(item)
    scenario = None
    for (name, operation), group in groups.items():
        if name != scenario:
            scenario = name
            lines.extend([name, header])
        for item in group:
            if item.status == "skipped":
                continue
            percent = item.kind == "ratio"
            change = item.change
            lines.append(
                f"  {operation:<26}{item.metric:<14}{format_value(item.old, item.kind, percent):>11}"
                f"{format_value(item.new, item.kind, percent):>11}"
                f"{(f'{change:+.1%}' if change is not None else '-'):>9}  "
                f"{item.status.upper() if item.status == 'regression' else item.status}"
            )
        skipped = [item for item in group if item.status == "skipped"]
        if skipped:
            named = [item.metric for item in skipped if item.metric != "*"]
            metrics = ", ".join(named) if named and len(skipped) < len(group) else "all"
            lines.append(f"  {operation:<26}{metrics:<14}  skipped: {skipped[0].reason}")
    regressions = [i for i in items if i.status == "regression"]
    improvements = sum(1 for i in items if i.status == "improvement")
    unchanged = sum(1 for i in items if i.status == "unchanged")
    skipped_count = sum(1 for i in items if i.status == "skipped")
    lines.append(f"{len(regressions)} regressed, {improvements} improved, {unchanged} unchanged, "
                 f"{skipped_count} skipped")
    if regressions:
        lines.append("regressions: " + ", ".join(f"{i.scenario}: {i.label}" for i in regressions))
    return "\n".join(lines)
