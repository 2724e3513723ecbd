"""Merging the GuideLLM reports of one entry into the framework's metrics (``MergedLlmResults``).

``summarize`` turns the reports of one entry (``perf_tests.llm.results.parsing``) into ``MergedLlmResults``:
one statistics dict per metric name in the recorder's ``MetricsRecord`` form (``count``, ``ok``,
``failed``, ``success_rate``, ``throughput``, ``mean_ms``, ``p50_ms`` ...). With one benchmark the
numbers are GuideLLM's own; with several (stair-step layers, a sweep) they are merged from the
per-request records the same way GuideLLM computes them (weighted nearest-rank percentiles; ITL
weighted by output tokens - 1 and TPOT by output tokens, as GuideLLM does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perf_tests.errors import RunnerError
from perf_tests.llm.results.parsing import (
    LATENCY_METRICS,
    Distribution,
    GuidellmBenchmark,
    GuidellmReport,
    GuidellmWarning,
    RequestRecord,
    RequestTotals,
)

__all__ = ["MergedLlmResults", "summarize"]


@dataclass(frozen=True)
class MergedLlmResults(RequestTotals):
    """An entry's results over all its GuideLLM benchmarks.

    ``distributions`` holds latencies in milliseconds (our metric names) and token counts per request
    (``prompt_tokens``, ``output_tokens``); ``metrics`` is the ``MetricsRecord`` form of everything.
    """

    benchmarks: tuple[GuidellmBenchmark, ...]
    successful: int
    errored: int
    incomplete: int
    start: float
    end: float
    request_rate: float
    output_token_rate: float
    prompt_token_rate: float
    distributions: Mapping[str, Distribution]
    merged: bool  # computed from per-request records rather than taken from GuideLLM
    warnings: tuple[GuidellmWarning, ...]

    @property
    def requests(self) -> list[RequestRecord]:
        return [record for benchmark in self.benchmarks for record in benchmark.requests]

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Metric name -> statistics in the recorder's ``MetricsRecord`` form."""
        finished = self.successful + self.errored
        base: dict[str, Any] = {
            "count": finished,
            "ok": self.successful,
            "failed": self.errored,
            "incomplete": self.incomplete,
            "success_rate": (self.successful / finished) if finished else None,
            "throughput": self.request_rate,
        }
        out: dict[str, dict[str, Any]] = {
            "requests": {**base, "duration_s": self.duration, "benchmarks": len(self.benchmarks)},
        }
        for name in LATENCY_METRICS:
            distribution = self.distributions.get(name)
            if distribution is not None:
                out[name] = {**base, **_ms_stats(distribution)}
        for name, rate in (("output_tokens", self.output_token_rate), ("prompt_tokens", self.prompt_token_rate)):
            distribution = self.distributions.get(name)
            stats: dict[str, Any] = {**base, "throughput": rate, "unit": "tokens"}
            if distribution is not None:
                stats.update(total=round(distribution.mean * distribution.count), **_plain_stats(distribution))
            out[name] = stats
        return out


def _ms_stats(distribution: Distribution) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "unit": "ms",
        "samples": distribution.count,
        "mean_ms": distribution.mean,
        "min_ms": distribution.min,
        "max_ms": distribution.max,
        "std_ms": distribution.std_dev,
    }
    for key in ("p50", "p90", "p95", "p99", "p999"):
        value = distribution.percentile(key)
        if value is not None:
            stats[f"{key}_ms"] = value
    return stats


def _plain_stats(distribution: Distribution) -> dict[str, Any]:
    stats: dict[str, Any] = {"mean": distribution.mean, "min": distribution.min, "max": distribution.max}
    for key in ("p50", "p90", "p95", "p99"):
        value = distribution.percentile(key)
        if value is not None:
            stats[key] = value
    return stats


_TOKEN_METRICS = {"prompt_tokens": "prompt_token_count", "output_tokens": "output_token_count"}


def summarize(reports: Sequence[GuidellmReport]) -> MergedLlmResults:
    """The results of one entry from the reports of its GuideLLM processes.

    Raises ``RunnerError`` when there is no benchmark at all.
    """
    benchmarks = tuple(b for report in reports for b in report.benchmarks)
    if not benchmarks:
        raise RunnerError("GuideLLM wrote no benchmark (the load did not run)")
    start = min(b.start for b in benchmarks)
    end = max(b.end for b in benchmarks)
    successful = sum(b.successful for b in benchmarks)
    warnings = tuple(w for b in benchmarks for w in b.warnings)
    if len(benchmarks) == 1:
        only = benchmarks[0]
        distributions: dict[str, Distribution] = {}
        for name, (source, factor) in LATENCY_METRICS.items():
            if source in only.metrics:
                distributions[name] = only.metrics[source].scaled(factor)
        for name, source in _TOKEN_METRICS.items():
            if source in only.metrics:
                distributions[name] = only.metrics[source]
        return MergedLlmResults(
            benchmarks, only.successful, only.errored, only.incomplete, start, end,
            request_rate=only.rates.get("requests_per_second", 0.0),
            output_token_rate=only.rates.get("output_tokens_per_second", 0.0),
            prompt_token_rate=only.rates.get("prompt_tokens_per_second", 0.0),
            distributions=distributions, merged=False, warnings=warnings,
        )
    ok = [r for b in benchmarks for r in b.requests if r.status == "successful"]
    window = end - start
    merged = _merged_distributions(ok, scheduled=all("request_scheduled_latency" in b.metrics for b in benchmarks))
    output_tokens = sum(r.output_tokens or 0 for r in ok)
    prompt_tokens = sum(r.prompt_tokens or 0 for r in ok)
    return MergedLlmResults(
        benchmarks,
        successful,
        sum(b.errored for b in benchmarks),
        sum(b.incomplete for b in benchmarks),
        start,
        end,
        request_rate=successful / window if window > 0 else 0.0,
        output_token_rate=output_tokens / window if window > 0 else 0.0,
        prompt_token_rate=prompt_tokens / window if window > 0 else 0.0,
        distributions=merged,
        merged=True,
        warnings=warnings,
    )


def _merged_distributions(ok: Sequence[RequestRecord], scheduled: bool) -> dict[str, Distribution]:
    def one(value: Callable[[RequestRecord], float | None]) -> list[tuple[float, float]]:
        return [(v, 1.0) for r in ok if (v := value(r)) is not None]

    candidates: dict[str, Distribution | None] = {
        "request_latency": Distribution.from_values(one(lambda r: None if r.latency is None else r.latency * 1000)),
        "ttft": Distribution.from_values(one(lambda r: r.ttft_ms)),
        "itl": Distribution.from_values(
            (r.itl_ms, float((r.output_tokens or 1) - 1)) for r in ok if r.itl_ms is not None
        ),
        "tpot": Distribution.from_values(
            (r.tpot_ms, float(r.output_tokens or 0)) for r in ok if r.tpot_ms is not None
        ),
        "prompt_tokens": Distribution.from_values(one(lambda r: r.prompt_tokens)),
        "output_tokens": Distribution.from_values(one(lambda r: r.output_tokens)),
    }
    if scheduled:
        candidates["request_scheduled_latency"] = Distribution.from_values(
            one(lambda r: None if r.scheduled_latency is None else r.scheduled_latency * 1000)
        )
    return {name: dist for name, dist in candidates.items() if dist is not None}
