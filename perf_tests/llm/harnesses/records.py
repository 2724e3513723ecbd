"""Per-request samples of any harness -> one ``GuidellmBenchmark`` in GuideLLM's naming.

``perf_tests.llm.results.merging.summarize`` reads GuideLLM's metric names (``time_to_first_token_ms``,
``request_latency`` in seconds, ...), so a harness that reports per-request timings hands them here and
its numbers come out under the same names as GuideLLM's: the runner, thresholds, baselines and reports
do not know which harness ran. A metric with no sample is left out (recorded as not measured), never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from perf_tests.llm.results.parsing import Distribution, GuidellmBenchmark, RequestRecord

__all__ = ["benchmark_from_records"]


def _dist(values: Iterable[float | int | None]) -> Distribution | None:
    return Distribution.from_values((float(v), 1.0) for v in values if v is not None)


def benchmark_from_records(
    records: Sequence[RequestRecord],
    *,
    strategy: str,
    strategy_rate: float | None,
    itl_samples_ms: Iterable[float] | None = None,
    native: Mapping[str, Distribution] | None = None,
) -> GuidellmBenchmark:
    """One benchmark from ``records``; ``itl_samples_ms`` are the harness's own inter-token gaps (else each
    request's mean ITL), ``native`` distributions the harness computed itself (they win). Its rates are per
    second of the requests' span (first start to last end); the runner rescales them to the entry's load
    window when the harness has no rates of its own (``Harness.own_rates``)."""
    ok = [r for r in records if r.status == "successful"]
    starts = [r.start for r in records if r.start is not None]
    ends = [r.end for r in records if r.end is not None]
    start = min(starts) if starts else 0.0
    end = max(ends or starts or [start])
    itl = (Distribution.from_values((v, 1.0) for v in itl_samples_ms) if itl_samples_ms is not None
           else _dist(r.itl_ms for r in ok))
    candidates: dict[str, Distribution | None] = {
        "request_latency": _dist(r.latency for r in ok),
        "time_to_first_token_ms": _dist(r.ttft_ms for r in ok),
        "inter_token_latency_ms": itl,
        "time_per_output_token_ms": _dist(r.tpot_ms for r in ok),
        "prompt_token_count": _dist(r.prompt_tokens for r in ok),
        "output_token_count": _dist(r.output_tokens for r in ok),
    }
    if ok and all(r.scheduled_latency is not None for r in ok):
        candidates["request_scheduled_latency"] = _dist(r.scheduled_latency for r in ok)
    metrics = {name: dist for name, dist in candidates.items() if dist is not None}
    metrics.update(native or {})
    window = end - start
    rates = {
        "requests_per_second": len(ok) / window if window > 0 else 0.0,
        "output_tokens_per_second": sum(r.output_tokens or 0 for r in ok) / window if window > 0 else 0.0,
        "prompt_tokens_per_second": sum(r.prompt_tokens or 0 for r in ok) / window if window > 0 else 0.0,
    }
    return GuidellmBenchmark(
        strategy=strategy,
        strategy_rate=strategy_rate,
        start=start,
        end=end,
        successful=len(ok),
        errored=sum(1 for r in records if r.status == "errored"),
        incomplete=sum(1 for r in records if r.status == "incomplete"),
        metrics=metrics,
        rates=rates,
        warnings=(),
        requests=tuple(sorted(records, key=lambda r: r.start or 0.0)),
        scheduler_start=None,  # no scheduler start in per-request samples: the hold report has the load's start
        first_request=start if starts else None,
    )
