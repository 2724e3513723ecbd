"""GuideLLM's JSON report (a real one from GuideLLM 0.8.1 against its mock server) into our metrics."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from perf_tests.errors import RunnerError
from perf_tests.llm.results.merging import summarize
from perf_tests.llm.results.parsing import Distribution, load_report, parse_report

REPORT = Path(__file__).resolve().parents[3] / "test_data" / "llm" / "guidellm_report_constant.json"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REPORT.read_text(encoding="utf-8"))
    return data


def test_benchmark_counts_times_and_requests(raw: dict[str, Any]) -> None:
    report = load_report(REPORT)
    assert report.guidellm_version == "0.8.1"
    [bench] = report.benchmarks
    metrics = raw["benchmarks"][0]["metrics"]
    assert (bench.successful, bench.errored, bench.incomplete) == (
        metrics["request_totals"]["successful"], metrics["request_totals"]["errored"],
        metrics["request_totals"]["incomplete"])
    assert bench.strategy == "constant" and bench.strategy_rate == 5.0
    assert bench.scheduler_start == raw["benchmarks"][0]["scheduler_state"]["start_time"]
    assert len([r for r in bench.requests if r.status == "successful"]) == bench.successful
    first = next(r for r in bench.requests if r.status == "successful")
    assert first.targeted_start is not None and first.start is not None
    assert first.lateness is not None and first.lateness >= 0


def test_single_benchmark_metrics_are_guidellms_own(raw: dict[str, Any]) -> None:
    results = summarize([load_report(REPORT)])
    assert not results.merged
    metrics = results.metrics()
    source = raw["benchmarks"][0]["metrics"]
    for ours, theirs, factor in (("ttft", "time_to_first_token_ms", 1.0), ("itl", "inter_token_latency_ms", 1.0),
                                 ("tpot", "time_per_output_token_ms", 1.0), ("request_latency", "request_latency", 1e3),
                                 ("request_scheduled_latency", "request_scheduled_latency", 1e3)):
        dist = source[theirs]["successful"]
        stats = metrics[ours]
        assert stats["p50_ms"] == pytest.approx(dist["percentiles"]["p50"] * factor)
        assert stats["p99_ms"] == pytest.approx(dist["percentiles"]["p99"] * factor)
        assert stats["mean_ms"] == pytest.approx(dist["mean"] * factor)
        assert stats["max_ms"] == pytest.approx(dist["max"] * factor)
        assert stats["count"] == source["request_totals"]["successful"] + source["request_totals"]["errored"]
        assert stats["success_rate"] == 1.0
    assert metrics["requests"]["throughput"] == pytest.approx(source["requests_per_second"]["successful"]["mean"])
    assert metrics["output_tokens"]["throughput"] == pytest.approx(
        source["output_tokens_per_second"]["successful"]["mean"])
    assert metrics["output_tokens"]["total"] == 16 * source["request_totals"]["successful"]


def test_merging_requests_reproduces_guidellms_statistics() -> None:
    """With two copies of one benchmark the merged path runs; it must equal GuideLLM's own numbers."""
    report = load_report(REPORT)
    single = summarize([report])
    merged = summarize([report, report])
    assert merged.merged
    assert merged.successful == 2 * single.successful
    for name in ("ttft", "itl", "tpot", "request_latency", "request_scheduled_latency", "output_tokens"):
        a, b = single.distributions[name], merged.distributions[name]
        assert b.percentile("p50") == pytest.approx(a.percentile("p50")), name
        assert b.percentile("p90") == pytest.approx(a.percentile("p90")), name
        assert b.mean == pytest.approx(a.mean), name
        assert b.count == 2 * a.count, name


def test_weighted_nearest_rank_percentiles() -> None:
    dist = Distribution.from_values([(v, 1.0) for v in (5.0, 1.0, 3.0, 2.0, 4.0)])
    assert dist is not None
    assert (dist.min, dist.median, dist.max, dist.mean, dist.count) == (1.0, 3.0, 5.0, 3.0, 5)
    assert dist.percentile("p99") == 5.0 and dist.percentile("p001") == 1.0
    weighted = Distribution.from_values([(1.0, 9.0), (100.0, 1.0)])
    assert weighted is not None and weighted.percentile("p90") == 1.0 and weighted.percentile("p95") == 100.0
    assert Distribution.from_values([]) is None


def test_several_reports_add_up(raw: dict[str, Any]) -> None:
    shifted = copy.deepcopy(raw)
    bench = shifted["benchmarks"][0]
    bench["start_time"] += 100
    bench["end_time"] += 100
    for status in ("successful", "errored", "incomplete"):
        for request in bench["requests"][status] or []:
            request["request_start_time"] += 100
            request["request_end_time"] = (request["request_end_time"] or 0) + 100
    results = summarize([load_report(REPORT), parse_report(shifted)])
    one = summarize([load_report(REPORT)])
    assert results.total == 2 * one.total
    assert results.duration == pytest.approx(one.duration + 100)
    assert results.request_rate == pytest.approx(results.successful / results.duration)


def test_bad_reports_are_clear_errors(tmp_path: Path, raw: dict[str, Any]) -> None:
    with pytest.raises(RunnerError, match="cannot be read"):
        load_report(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(RunnerError, match="is not valid JSON"):
        load_report(broken)
    with pytest.raises(RunnerError, match="not a GuideLLM benchmark report"):
        parse_report({"hello": 1})
    old = {**raw, "metadata": {**raw["metadata"], "version": 1}}
    with pytest.raises(RunnerError, match="report version 1; perf-tests reads version 2"):
        parse_report(old)
    with pytest.raises(RunnerError, match="no benchmark"):
        summarize([parse_report({**raw, "benchmarks": []})])
