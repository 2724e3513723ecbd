"""The harness comparison table: shown only for runs of several harnesses; 'not measured' never a number."""

from __future__ import annotations

from typing import Any

from perf_tests.reports.console import format_summary_table
from perf_tests.reports.harness_comparison import comparison_html, comparison_rows, comparison_text
from perf_tests.results import SummaryDocument


def document(*parts: dict[str, Any]) -> SummaryDocument:
    """A summary of these entries."""
    return SummaryDocument.model_validate({"run_id": "r", "start": None, "end": None, "scenarios": list(parts)})


def part(name: str, harness: str, scheduled: dict[str, Any]) -> dict[str, Any]:
    base = {"source": harness, "count": 10, "ok": 10, "failed": 0}
    return {"name": name, "mode": "LLM_LOAD", "operations": {
        "requests": {**base, "throughput": 1.95},
        "ttft": {**base, "p50_ms": 12.0, "p99_ms": 30.5},
        "itl": {**base, "p50_ms": 2.0, "p99_ms": 4.0},
        "request_scheduled_latency": {"source": harness, **scheduled},
    }}


def test_two_harnesses_are_compared_and_what_one_does_not_measure_says_so() -> None:
    summary = document(
        part("a", "guidellm", {"p99_ms": 50.0}),
        part("b", "vllm-bench", {"not_measured": "not measured by vllm-bench"}),
        {"name": "kfp", "mode": "RANDOM_GETS", "operations": {"get": {"count": 3}}},
    )
    rows = comparison_rows(summary)
    assert [(r.entry, r.harness, r.rate) for r in rows] == [("a", "guidellm", 1.95), ("b", "vllm-bench", 1.95)]
    assert rows[0].cells[:2] == ("12.0", "30.5") and rows[0].cells[-1] == "50.0"
    assert rows[1].cells[-1] == "not measured by vllm-bench"
    assert rows[1].cells[4] == "-"  # tpot was not recorded at all
    text = comparison_text(rows)
    assert text.splitlines()[0] == "harness comparison (latencies in ms):"
    console = format_summary_table(summary)
    assert "    not measured by vllm-bench" in console.splitlines()  # under its operation's row too
    assert "<td>vllm-bench</td>" in comparison_html(rows)


def test_one_harness_only_shows_no_comparison() -> None:
    summary = document(part("a", "guidellm", {}), part("b", "guidellm", {}))
    assert comparison_rows(summary) == []
    assert "harness comparison" not in format_summary_table(summary)
    assert comparison_html([]) == "" and comparison_text([]) == ""
