"""The threshold language of scenario files: k6-style pass/fail criteria such as ``p95(create_run) < 2s``.

Grammar (names are case-insensitive, spaces are free)::

    threshold  := metric [ "(" operation ")" ] comparator limit
    comparator := "<" | "<=" | ">" | ">=" | "==" | "!="
    limit      := amount | "baseline" [ ("+" | "-") amount ]

Metrics, what they measure and the units their limits take:

=====================================  ==========================================  ===========================
metric                                 measures                                    limit
=====================================  ==========================================  ===========================
``avg`` ``mean`` ``med`` ``min``       duration of the operation's successful      ``500ms``, ``2s``, ``5m``,
``max`` ``p50`` ``p90`` ``p95``        attempts (``med`` = ``p50``; any ``pNN`` or  ``1h``; a plain number is
``p99`` ``pNN`` (e.g. ``p99.9``)       ``pNN.N`` percentile); needs an operation   milliseconds
``rate``                               attempts per second over the entry's window ``190``, ``190/s``, ``10/m``
``count`` ``failed``                   attempts, failed attempts                   a plain number
``success_rate`` ``error_rate``        share of attempts that succeeded / failed   ``0.99`` or ``99%``
``dropped``                            arrivals dropped by an open-model load      a plain number
``min`` ``max`` ``avg`` ``mean``       a Prometheus query of the entry over its    a plain number (``0.9``,
``last`` of ``prom:<query>``           window, all series of all samples           ``10``) or a percentage
=====================================  ==========================================  ===========================

``max(prom:waiting) < 10``, ``avg(prom:kv_cache) < 0.9``, ``last(prom:replicas) >= 2``: the query names are
those of the entry's ``prometheus`` block (checked by the scenario loader); a query that returned no
sample fails with "no data", never as zero.

``rate``, ``count``, ``failed``, ``success_rate``, ``error_rate`` and ``dropped`` take an optional operation;
without one they cover all the entry's operations (statistics computed elsewhere, e.g. GuideLLM's, excluded).

A limit of ``baseline`` compares with the same metric in the baseline summary (``--baseline``), optionally
with a margin: ``p95(create_run) < baseline + 20%`` (relative) or ``p95(get_run) <= baseline + 50ms``
(absolute). Such a threshold replaces the global ``--max-regression`` comparison of that metric and
operation; without a baseline it is skipped.

This module only parses; ``perf_tests.thresholds.evaluate`` measures.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from perf_tests.errors import echo

__all__ = [
    "COMPARATORS",
    "MAX_THRESHOLD_LENGTH",
    "METRIC_NAMES",
    "PROMETHEUS_METRICS",
    "PROMETHEUS_PREFIX",
    "BaselineMargin",
    "Threshold",
    "check_thresholds",
    "parse_threshold",
]

Kind = Literal["latency", "rate", "count", "ratio", "value"]

PROMETHEUS_PREFIX = "prom:"
"""An operation of this form (``prom:waiting``) names a Prometheus query of the entry."""

PROMETHEUS_METRICS: dict[str, str] = {"min": "min", "max": "max", "avg": "mean", "mean": "mean", "last": "last"}
"""Metrics of a Prometheus query -> the aggregate (``summary.json``) they read."""

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}

# metric name -> (kind, summary key or None for percentiles, operation required)
_METRICS: dict[str, tuple[Kind, str, bool]] = {
    "avg": ("latency", "mean_ms", True),
    "mean": ("latency", "mean_ms", True),
    "med": ("latency", "p50_ms", True),
    "min": ("latency", "min_ms", True),
    "max": ("latency", "max_ms", True),
    "rate": ("rate", "throughput", False),
    "count": ("count", "count", False),
    "failed": ("count", "failed", False),
    "success_rate": ("ratio", "success_rate", False),
    "error_rate": ("ratio", "error_rate", False),
    "dropped": ("count", "dropped", False),
}
METRIC_NAMES: tuple[str, ...] = (
    "avg", "mean", "med", "min", "max", "p50", "p90", "p95", "p99", "pNN",
    "rate", "count", "failed", "success_rate", "error_rate", "dropped",
)
"""The metric names, as listed in error messages (``pNN`` stands for any percentile)."""

MAX_THRESHOLD_LENGTH = 200
"""Characters a threshold may have; a longer one is a mistake (and is not echoed whole in the error)."""

_MAX_LISTED = 5  # problems listed in one error; the rest are counted


def _shown(text: str) -> str:
    return echo(text, MAX_THRESHOLD_LENGTH)


_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?|100)")
_SHAPE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)\s*(?:\(\s*(?P<op>[^()]*?)\s*\))?\s*"
    r"(?P<cmp><=|>=|==|!=|<|>)\s*(?P<limit>.+?)\s*$"
)
_AMOUNT = re.compile(r"^(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>ms|s|m|h|%|/s|/m|/h)?$", re.IGNORECASE)
_BASELINE = re.compile(r"^baseline\s*(?:(?P<sign>[+-])\s*(?P<amount>.+))?$", re.IGNORECASE)
_DURATION_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PER_SECOND = {"/s": 1.0, "/m": 1 / 60.0, "/h": 1 / 3600.0}


@dataclass(frozen=True)
class BaselineMargin:
    """How far from the baseline's value the limit is: ``relative`` is a fraction (0.2 for ``+ 20%``),
    otherwise ``amount`` is in the metric's unit; ``sign`` is +1 or -1."""

    sign: int
    amount: float
    relative: bool

    def apply(self, base: float) -> float:
        """The limit for a baseline value ``base``."""
        if self.relative:
            return base * (1.0 + self.sign * self.amount)
        return base + self.sign * self.amount


@dataclass(frozen=True)
class Threshold:
    """One parsed threshold. ``value`` is in the metric's canonical unit (milliseconds, per second,
    a fraction or a count); it is None when the limit is relative to the baseline."""

    text: str
    metric: str
    operation: str | None
    comparator: str
    limit_text: str
    value: float | None
    kind: Kind
    key: str
    percent: bool = False
    margin: BaselineMargin | None = None

    @property
    def label(self) -> str:
        """The metric as written in reports, e.g. ``p95(create_run)`` or ``success_rate``."""
        return f"{self.metric}({self.operation})" if self.operation else self.metric

    @property
    def relative_to_baseline(self) -> bool:
        return self.value is None

    @property
    def percentile(self) -> float | None:
        """The percentile a ``pNN`` metric asks for (50 for ``med``), else None."""
        if self.kind != "latency" or not self.key.startswith("p"):
            return None
        return float(self.key[1:-3])

    @property
    def prometheus_query(self) -> str | None:
        """The query name of a ``metric(prom:<name>)`` threshold, else None."""
        if self.kind == "value" and self.operation is not None:
            return self.operation.removeprefix(PROMETHEUS_PREFIX)
        return None

    @property
    def about_failures(self) -> bool:
        """Whether the threshold judges failed operations (then it replaces the default 'failures' check)."""
        return self.metric in ("success_rate", "error_rate", "failed")

    def holds(self, measured: float, limit: float) -> bool:
        """Whether ``measured <comparator> limit``."""
        return COMPARATORS[self.comparator](measured, limit)


def _metric(name: str) -> tuple[str, Kind, str, bool]:
    """(canonical name, kind, summary key, operation required) of a metric name; ValueError if unknown."""
    lowered = name.lower()
    if lowered in _METRICS:
        kind, key, needs = _METRICS[lowered]
        return lowered, kind, key, needs
    match = _PERCENTILE.fullmatch(lowered)
    if match:
        number = float(match.group(1))
        if not 0 < number <= 100:
            raise ValueError(f"percentile {echo(name)} must be above p0 and at most p100")
        return lowered, "latency", f"p{number:g}_ms", True
    raise ValueError(f"unknown metric {echo(name)}; valid metrics: {', '.join(METRIC_NAMES)}")


def _amount(text: str, kind: Kind, metric: str, relative_ok: bool) -> tuple[float, bool, bool]:
    """(value in canonical unit, written as a percentage, is a relative percentage) of a limit amount."""
    match = _AMOUNT.match(text.strip())
    if not match:
        raise ValueError(f"limit {echo(text)} is not a number{_unit_hint(kind, metric)}")
    number = float(match.group("num"))
    unit = (match.group("unit") or "").lower()
    if unit == "%":
        if relative_ok:
            return number / 100.0, True, True
        if kind != "ratio":
            raise ValueError(f"'%' does not apply to {metric}{_unit_hint(kind, metric)}")
        if number > 100:
            raise ValueError(f"{metric} limit {echo(text)} is above 100%")
        return number / 100.0, True, False
    if kind == "value":
        if unit:
            raise ValueError(f"unit {echo(unit)} does not apply to {metric}{_unit_hint(kind, metric)}")
        return number, False, False
    if kind == "latency":
        if unit and unit not in _DURATION_MS:
            raise ValueError(f"unit {echo(unit)} does not apply to {metric}{_unit_hint(kind, metric)}")
        return number * _DURATION_MS[unit or "ms"], False, False
    if kind == "rate":
        if unit and unit not in _PER_SECOND:
            raise ValueError(f"unit {echo(unit)} does not apply to {metric}{_unit_hint(kind, metric)}")
        return number * _PER_SECOND[unit or "/s"], False, False
    if unit:
        raise ValueError(f"unit {echo(unit)} does not apply to {metric}{_unit_hint(kind, metric)}")
    if kind == "ratio" and number > 1:
        raise ValueError(f"{metric} limit {echo(text)} must be a fraction from 0 to 1 (or a percentage like 99%)")
    return number, False, False


def _unit_hint(kind: Kind, metric: str) -> str:
    hints = {
        "latency": "a duration like 500ms, 2s, 5m, 1h (a plain number is milliseconds)",
        "rate": "operations per second like 190 or 190/s, 10/m, 2/h",
        "count": "a plain number",
        "ratio": "a fraction like 0.99 or a percentage like 99%",
        "value": "a plain number in the query's own unit, like 10 or 0.9",
    }
    return f"; {metric} takes {hints[kind]}"


def parse_threshold(text: str, operations: Sequence[str] = (), mode: str = "") -> Threshold:
    """Parse one threshold; ``ValueError`` with an actionable message if it is malformed, names an
    unknown metric, or (when ``operations`` is given) an operation the mode does not record."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a threshold must be a non-empty string like 'p95(create_run) < 2s'")
    if len(text) > MAX_THRESHOLD_LENGTH:
        raise ValueError(f"threshold {echo(text)} is longer than {MAX_THRESHOLD_LENGTH} characters")
    shape = _SHAPE.match(text)
    if not shape:
        raise ValueError(
            f"threshold {_shown(text)} is not of the form 'metric(operation) <comparator> limit', e.g. "
            "'p95(create_run) < 2s', 'success_rate >= 0.99', 'rate(list_runs) >= 190'"
        )
    operation = shape.group("op")
    if operation is not None and operation.startswith(PROMETHEUS_PREFIX):
        return _prometheus_threshold(text, shape, operation)
    if shape.group("metric").lower() == "last":
        raise ValueError(f"threshold {_shown(text)}: last applies to Prometheus queries only, e.g. "
                         "last(prom:replicas) >= 2")
    try:
        name, kind, key, needs_operation = _metric(shape.group("metric"))
    except ValueError as exc:
        raise ValueError(f"threshold {_shown(text)}: {exc}") from None
    if operation is not None and not operation:
        raise ValueError(f"threshold {_shown(text)}: empty operation in {name}(); name one, e.g. {name}(create_run)")
    where = f" for mode {mode}" if mode else ""
    if operation is None and needs_operation:
        example = operations[0] if operations else "create_run"
        raise ValueError(f"threshold {_shown(text)}: {name} needs an operation, e.g. {name}({example})")
    if operation is not None and operations and operation not in operations:
        raise ValueError(
            f"threshold {_shown(text)}: unknown operation {echo(operation)}{where}; "
            f"valid operations: {', '.join(operations)}"
        )
    limit_text = shape.group("limit")
    value: float | None
    margin: BaselineMargin | None = None
    percent = False
    baseline = _BASELINE.match(limit_text)
    if baseline:
        value = None
        if baseline.group("sign"):
            try:
                amount, _, relative = _amount(baseline.group("amount"), kind, name, relative_ok=True)
            except ValueError as exc:
                raise ValueError(f"threshold {_shown(text)}: {exc}") from None
            margin = BaselineMargin(1 if baseline.group("sign") == "+" else -1, amount, relative)
    else:
        try:
            value, percent, _ = _amount(limit_text, kind, name, relative_ok=False)
        except ValueError as exc:
            raise ValueError(f"threshold {_shown(text)}: {exc}") from None
        if not math.isfinite(value):
            raise ValueError(f"threshold {_shown(text)}: the limit must be a finite number")
    return Threshold(
        text=text.strip(),
        metric=name,
        operation=operation,
        comparator=shape.group("cmp"),
        limit_text=limit_text,
        value=value,
        kind=kind,
        key=key,
        percent=percent,
        margin=margin,
    )


def _prometheus_threshold(text: str, shape: re.Match[str], operation: str) -> Threshold:
    """``min|max|avg|mean|last(prom:<query>) <comparator> <number>``."""
    metric = shape.group("metric").lower()
    query = operation.removeprefix(PROMETHEUS_PREFIX).strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", query):
        raise ValueError(f"threshold {_shown(text)}: name a query of the entry's prometheus block after "
                         "'prom:', e.g. max(prom:waiting) < 10")
    if metric not in PROMETHEUS_METRICS:
        raise ValueError(f"threshold {_shown(text)}: metric {echo(metric)} does not apply to a Prometheus "
                         f"query; use one of {', '.join(PROMETHEUS_METRICS)}")
    limit_text = shape.group("limit")
    if _BASELINE.match(limit_text):
        raise ValueError(f"threshold {_shown(text)}: a Prometheus query cannot be compared with the baseline")
    try:
        value, _, _ = _amount(limit_text, "value", metric, relative_ok=False)
    except ValueError as exc:
        raise ValueError(f"threshold {_shown(text)}: {exc}") from None
    return Threshold(text=text.strip(), metric=metric, operation=PROMETHEUS_PREFIX + query,
                     comparator=shape.group("cmp"), limit_text=limit_text, value=value, kind="value",
                     key=PROMETHEUS_METRICS[metric])


def check_thresholds(texts: Iterable[str], operations: Sequence[str] = (), mode: str = "") -> list[Threshold]:
    """Parse every threshold of an entry; one ``ValueError`` listing all problems if any is invalid."""
    parsed: list[Threshold] = []
    problems: list[str] = []
    for text in texts:
        try:
            parsed.append(parse_threshold(text, operations, mode))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        shown = problems[:_MAX_LISTED]
        more = f"; and {len(problems) - len(shown)} more invalid threshold(s)" if len(problems) > len(shown) else ""
        raise ValueError("; ".join(shown) + more)
    return parsed
