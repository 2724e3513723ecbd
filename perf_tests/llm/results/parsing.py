"""Reading GuideLLM's JSON report (report version 2, GuideLLM 0.8).

Pure standard library: the report may come from a local process or be fetched from a cluster, so no
GuideLLM import is needed to read it.

``load_report`` parses one file into ``GuidellmReport`` (its benchmarks with GuideLLM's statistics,
counts, warnings, scheduler times and every request's timings). Merging the reports of one entry into
the framework's metrics is ``perf_tests.llm.results.merging``.

GuideLLM's units: ``request_latency`` and ``request_scheduled_latency`` in seconds, ``*_ms`` in
milliseconds. ``request_scheduled_latency`` counts from each request's *targeted* start, so a load
generator that fell behind cannot hide the wait (coordinated omission); GuideLLM reports it only for
strategies with an arrival schedule (constant, poisson).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perf_tests.errors import RunnerError

__all__ = [
    "FELL_BEHIND_WARNINGS",
    "LATENCY_METRICS",
    "PERCENTILES",
    "Distribution",
    "GuidellmBenchmark",
    "GuidellmReport",
    "GuidellmWarning",
    "RequestRecord",
    "RequestTotals",
    "load_report",
    "parse_report",
]

REPORT_VERSION = 2

PERCENTILES: Mapping[str, float] = {
    "p001": 0.1, "p01": 1.0, "p05": 5.0, "p10": 10.0, "p25": 25.0, "p50": 50.0,
    "p75": 75.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9,
}
"""GuideLLM's percentile keys and the percentile each stands for."""

LATENCY_METRICS: Mapping[str, tuple[str, float]] = {
    "request_latency": ("request_latency", 1000.0),
    "request_scheduled_latency": ("request_scheduled_latency", 1000.0),
    "ttft": ("time_to_first_token_ms", 1.0),
    "itl": ("inter_token_latency_ms", 1.0),
    "tpot": ("time_per_output_token_ms", 1.0),
}
"""Our metric name -> (GuideLLM metric, factor to milliseconds)."""

FELL_BEHIND_WARNINGS: Mapping[str, str] = {
    "root_late": "the load generator fell behind its schedule (requests were sent late)",
    "generation_delay_ttft": "the load generator's data generation was a bottleneck",
    "dataset_incomplete": "the trace dataset was not fully loaded (late arrivals)",
}
"""GuideLLM warning codes that mean the generator, not the server, limited the load."""


@dataclass(frozen=True)
class Distribution:
    """A distribution summary in GuideLLM's form: count, mean, median, spread and percentiles."""

    count: int
    mean: float
    median: float
    min: float
    max: float
    std_dev: float
    percentiles: Mapping[str, float]

    @classmethod
    def from_guidellm(cls, data: Any) -> Distribution | None:
        """GuideLLM's ``DistributionSummary`` JSON, or None when absent or empty."""
        if not isinstance(data, Mapping) or not data.get("count"):
            return None
        raw = data.get("percentiles") or {}
        return cls(
            count=int(data["count"]),
            mean=float(data["mean"]),
            median=float(data["median"]),
            min=float(data["min"]),
            max=float(data["max"]),
            std_dev=float(data.get("std_dev") or 0.0),
            percentiles={key: float(raw[key]) for key in PERCENTILES if key in raw},
        )

    @classmethod
    def from_values(cls, values: Iterable[tuple[float, float]]) -> Distribution | None:
        """The distribution of ``(value, weight)`` pairs, computed as GuideLLM computes it.

        Percentiles are the smallest value whose cumulative probability reaches the percentile (weighted
        nearest rank); ``count`` is the rounded total weight.
        """
        pairs = sorted((v, w) for v, w in values if w > 0 and math.isfinite(v))
        if not pairs:
            return None
        merged: list[list[float]] = []
        for value, weight in pairs:
            if merged and merged[-1][0] == value:
                merged[-1][1] += weight
            else:
                merged.append([value, weight])
        total = sum(weight for _, weight in merged)
        cumulative: list[float] = []
        running = 0.0
        for _, weight in merged:
            running += weight / total
            cumulative.append(running)
        mean = sum(value * weight for value, weight in merged) / total
        variance = sum((value - mean) ** 2 * weight for value, weight in merged) / total

        def at(probability: float) -> float:
            index = min(bisect.bisect_left(cumulative, probability), len(merged) - 1)
            return merged[index][0]

        percentiles = {key: at(p / 100.0) for key, p in PERCENTILES.items()}
        return cls(
            count=round(total),
            mean=mean,
            median=percentiles["p50"],
            min=merged[0][0],
            max=merged[-1][0],
            std_dev=math.sqrt(variance),
            percentiles=percentiles,
        )

    def scaled(self, factor: float) -> Distribution:
        """The same distribution in other units (every value times ``factor``)."""
        return Distribution(
            self.count, self.mean * factor, self.median * factor, self.min * factor, self.max * factor,
            self.std_dev * factor, {key: value * factor for key, value in self.percentiles.items()},
        )

    def percentile(self, key: str) -> float | None:
        return self.percentiles.get(key)


@dataclass(frozen=True)
class RequestRecord:
    """One request of a benchmark with GuideLLM's timings (epoch seconds) and measurements."""

    status: str  # successful | errored | incomplete
    targeted_start: float | None
    start: float | None
    end: float | None
    latency: float | None  # seconds
    scheduled_latency: float | None  # seconds, from the targeted start
    ttft_ms: float | None
    itl_ms: float | None
    tpot_ms: float | None
    prompt_tokens: int | None
    output_tokens: int | None
    first_token: float | None = None
    error: str | None = None

    @property
    def lateness(self) -> float | None:
        """Seconds between the targeted start and the actual start."""
        if self.targeted_start is None or self.start is None:
            return None
        return max(0.0, self.start - self.targeted_start)


@dataclass(frozen=True)
class GuidellmWarning:
    """One of GuideLLM's post-benchmark warnings (``root_late``, ``generation_delay_ttft`` ...)."""

    code: str
    message: str
    note: str = ""

    @property
    def fell_behind(self) -> bool:
        """True when the warning says the generator, not the target, limited the load."""
        return self.code in FELL_BEHIND_WARNINGS


class RequestTotals:
    """A mixin: ``total`` and ``duration`` of a dataclass that declares these request counts and span (a
    ``GuidellmBenchmark``; ``MergedLlmResults``, an entry's benchmarks merged)."""

    successful: int
    errored: int
    incomplete: int
    start: float  # epoch seconds
    end: float

    @property
    def total(self) -> int:
        """Every request: successful, errored and incomplete."""
        return self.successful + self.errored + self.incomplete

    @property
    def duration(self) -> float:
        """Seconds from ``start`` to ``end`` (never negative)."""
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class GuidellmBenchmark(RequestTotals):
    """One GuideLLM benchmark: one strategy (e.g. ``constant@5.00``) run for its duration."""

    strategy: str
    strategy_rate: float | None
    start: float
    end: float
    successful: int
    errored: int
    incomplete: int
    metrics: Mapping[str, Distribution]  # successful requests' distributions by GuideLLM metric name
    rates: Mapping[str, float]  # requests_per_second, output_tokens_per_second, ... (successful, mean)
    warnings: tuple[GuidellmWarning, ...]
    requests: tuple[RequestRecord, ...]
    scheduler_start: float | None = None  # when GuideLLM's scheduler started (after any hold)
    first_request: float | None = None


@dataclass(frozen=True)
class GuidellmReport:
    """A parsed GuideLLM JSON report."""

    path: Path | None
    guidellm_version: str
    benchmarks: tuple[GuidellmBenchmark, ...]
    config: Mapping[str, Any] = field(default_factory=dict)


def load_report(path: Path) -> GuidellmReport:
    """Parse GuideLLM's JSON report at ``path``; ``RunnerError`` when it is missing or not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunnerError(f"GuideLLM report {path} cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunnerError(f"GuideLLM report {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return parse_report(data, path)


def parse_report(data: Any, path: Path | None = None) -> GuidellmReport:
    """Parse an already loaded GuideLLM report (see ``load_report``)."""
    where = str(path) if path else "GuideLLM report"
    if not isinstance(data, Mapping) or not isinstance(data.get("benchmarks"), list):
        raise RunnerError(f"{where} is not a GuideLLM benchmark report (no 'benchmarks' list)")
    meta = data.get("metadata") or {}
    version = meta.get("version")
    if version != REPORT_VERSION:
        raise RunnerError(
            f"{where} has report version {version!r}; perf-tests reads version {REPORT_VERSION} (GuideLLM 0.8)"
        )
    try:
        benchmarks = tuple(_benchmark(item) for item in data["benchmarks"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RunnerError(f"{where}: unexpected benchmark layout ({type(exc).__name__}: {exc})") from None
    return GuidellmReport(path, str(meta.get("guidellm_version") or "unknown"), benchmarks,
                          data.get("config") or {})


def _benchmark(data: Mapping[str, Any]) -> GuidellmBenchmark:
    metrics_raw = data["metrics"]
    totals = metrics_raw.get("request_totals") or {}
    metrics: dict[str, Distribution] = {}
    rates: dict[str, float] = {}
    for name, value in metrics_raw.items():
        if not isinstance(value, Mapping) or "successful" not in value:
            continue
        distribution = Distribution.from_guidellm(value["successful"])
        if distribution is None:
            continue
        if name.endswith("_per_second"):
            rates[name] = distribution.mean
        else:
            metrics[name] = distribution
    strategy = (data.get("config") or {}).get("strategy") or {}
    rate = strategy.get("rate", strategy.get("streams"))
    scheduler = data.get("scheduler_state") or {}
    requests = data.get("requests") or {}
    records = [
        _request(item, status)
        for status in ("successful", "errored", "incomplete")
        for item in requests.get(status) or []
    ]
    return GuidellmBenchmark(
        strategy=str(strategy.get("type_", "unknown")),
        strategy_rate=float(rate) if isinstance(rate, int | float) else None,
        start=float(data["start_time"]),
        end=float(data["end_time"]),
        successful=int(totals.get("successful", 0)),
        errored=int(totals.get("errored", 0)),
        incomplete=int(totals.get("incomplete", 0)),
        metrics=metrics,
        rates=rates,
        warnings=tuple(
            GuidellmWarning(str(w.get("code", "")), str(w.get("message", "")), str(w.get("note") or ""))
            for w in data.get("warnings") or [] if isinstance(w, Mapping)
        ),
        requests=tuple(sorted(records, key=lambda r: (r.start or r.targeted_start or 0.0))),
        scheduler_start=_float(scheduler.get("start_time")),
        first_request=_float(scheduler.get("start_requests_time")),
    )


def _request(data: Mapping[str, Any], status: str) -> RequestRecord:
    info = data.get("info") or {}
    timings = info.get("timings") or {}
    return RequestRecord(
        status=status,
        targeted_start=_float(timings.get("targeted_start")),
        start=_float(data.get("request_start_time") or timings.get("request_start")),
        end=_float(data.get("request_end_time") or timings.get("request_end")),
        latency=_float(data.get("request_latency")),
        scheduled_latency=_float(data.get("request_scheduled_latency")),
        ttft_ms=_float(data.get("time_to_first_token_ms")),
        itl_ms=_float(data.get("inter_token_latency_ms")),
        tpot_ms=_float(data.get("time_per_output_token_ms")),
        prompt_tokens=_int(data.get("prompt_tokens")),
        output_tokens=_int(data.get("output_tokens")),
        first_token=_float(timings.get("first_token_iteration")),
        error=str(info["error"]) if info.get("error") else None,
    )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
