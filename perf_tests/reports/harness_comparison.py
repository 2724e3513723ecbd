"""The harness comparison table: LLM_LOAD entries run by different harnesses, side by side.

Read from a run's summary (``summary.json``'s scenarios), so the console and HTML reports show it for any
run whose LLM_LOAD entries used more than one harness (``test_data/scenarios/llm_harness_compare.json``):
per entry the harness, the rate it achieved (successful requests per second, as the harness computed it),
ok and failed counts, and TTFT, ITL, TPOT and request latency percentiles. A metric the harness does not
measure shows "not measured by <harness>", never 0.
"""

from __future__ import annotations

from html import escape

from pydantic import BaseModel, ConfigDict

from perf_tests.recorder.operation_summary import OperationSummary
from perf_tests.results.summary import SummaryDocument

__all__ = ["COLUMNS", "HarnessRow", "comparison_html", "comparison_rows", "comparison_text"]

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("ttft p50", "ttft", "p50_ms"),
    ("ttft p99", "ttft", "p99_ms"),
    ("itl p50", "itl", "p50_ms"),
    ("itl p99", "itl", "p99_ms"),
    ("tpot p50", "tpot", "p50_ms"),
    ("latency p50", "request_latency", "p50_ms"),
    ("latency p99", "request_latency", "p99_ms"),
    ("sched. p99", "request_scheduled_latency", "p99_ms"),
)
"""(column title, metric, statistic) of the latency columns."""


class HarnessRow(BaseModel):
    """One LLM_LOAD entry's numbers for the comparison."""

    model_config = ConfigDict(frozen=True)

    entry: str
    harness: str
    rate: float | None
    ok: int | None
    failed: int | None
    cells: tuple[str, ...]  # one per COLUMNS entry: "12.3" ms, "-" or "not measured by <harness>"


def _cell(op: OperationSummary | None, key: str) -> str:
    if op is None:
        return "-"
    if op.not_measured:
        return op.not_measured
    value = op.stat(key)
    return f"{value:.1f}" if isinstance(value, int | float) else "-"


def comparison_rows(summary: SummaryDocument) -> list[HarnessRow]:
    """The rows, or none when the run's LLM_LOAD entries used fewer than two harnesses."""
    rows = []
    for part in summary.scenarios:
        requests = part.operations.get("requests")
        if part.mode != "LLM_LOAD" or requests is None or not requests.source:
            continue
        rows.append(HarnessRow(
            entry=part.name,
            harness=requests.source,
            rate=requests.throughput,
            ok=_whole(requests.ok),
            failed=_whole(requests.failed),
            cells=tuple(_cell(part.operations.get(metric), key) for _, metric, key in COLUMNS),
        ))
    return rows if len({row.harness for row in rows}) > 1 else []


def _whole(count: float | None) -> int | None:
    """A count as the row holds it (some harnesses give whole numbers as floats)."""
    return None if count is None else int(count)


def _rate(value: float | None) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def comparison_text(rows: list[HarnessRow]) -> str:
    """The table for the console ('' without rows); latencies in ms."""
    if not rows:
        return ""
    titles = ["entry", "harness", "req/s", "ok", "failed", *(title for title, _, _ in COLUMNS)]
    table = [[row.entry, row.harness, _rate(row.rate), str(row.ok), str(row.failed), *row.cells] for row in rows]
    widths = [max(len(line[i]) for line in [titles, *table]) for i in range(len(titles))]
    lines = ["harness comparison (latencies in ms):"]
    for line in [titles, *table]:
        lines.append("  " + "  ".join(cell.rjust(width) if i >= 2 else cell.ljust(width)
                                      for i, (cell, width) in enumerate(zip(line, widths, strict=True))))
    return "\n".join(lines)


def comparison_html(rows: list[HarnessRow]) -> str:
    """The table for the HTML report ('' without rows)."""
    if not rows:
        return ""
    head = "".join(f'<th class="num">{escape(title)} ms</th>' for title, _, _ in COLUMNS)
    body = "".join(
        f"<tr><td>{escape(row.entry)}</td><td>{escape(row.harness)}</td><td class=\"num\">{_rate(row.rate)}</td>"
        f'<td class="num">{row.ok}</td><td class="num">{row.failed}</td>'
        + "".join(f'<td class="num">{escape(cell)}</td>' for cell in row.cells) + "</tr>"
        for row in rows
    )
    return ('<h3 id="harness-comparison">Harness comparison</h3><table><thead><tr><th>entry</th><th>harness</th>'
            '<th class="num">req/s</th><th class="num">ok</th><th class="num">failed</th>' + head
            + "</tr></thead><tbody>" + body + "</tbody></table>")
