"""The console table printed at the end of a run (pytest terminal summary and the CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perf_tests.reports.harness_comparison import comparison_rows, comparison_text
from perf_tests.reports.harness_time import notable_harness_times
from perf_tests.results.summary import SummaryDocument
from perf_tests.results.verdict import EntryVerdict

__all__ = ["format_summary_table"]

_COLUMNS = ("count", "failed", "rate/s", "p50", "p90", "p95", "p99", "max")


def _ms(value: Any) -> str:
    if value is None:
        return "-"
    value = float(value)
    if value >= 60_000:
        return f"{value / 60_000:.1f}m"
    if value >= 10_000:
        return f"{value / 1000:.1f}s"
    if value >= 100:
        return f"{value:.0f}ms"
    return f"{value:.1f}ms"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{float(value):.{digits}f}" if isinstance(value, float) else str(value)


def format_summary_table(summary: SummaryDocument, verdicts: Sequence[EntryVerdict] = ()) -> str:
    """A fixed-width table: one block per scenario, one row per operation, then its checks (of ``verdicts``:
    an entry without one is not marked)."""
    lines: list[str] = []
    target_lines = [f"target: {t.description or t.url}" for t in summary.targets.values()]
    lines.extend(target_lines)
    by_name = {v.name: v for v in verdicts}
    header = f"  {'operation':<28}" + "".join(f"{c:>10}" for c in _COLUMNS)
    for scenario in summary.scenarios:
        verdict = by_name.get(scenario.name)
        state = "" if verdict is None else ("PASSED" if verdict.passed else "FAILED")
        window = scenario.duration_s
        span = f", {window:.1f}s" if window else ""
        if scenario.load_duration_s is not None:
            span += f", load {scenario.load_duration_s:.1f}s"  # the window its rates are per second of
        lines.append(f"{scenario.name} ({scenario.mode}{span}) {state}".rstrip())
        if scenario.operations:
            lines.append(header)
        for name, op in scenario.operations.items():
            row = [
                _num(op.count),
                _num(op.failed),
                _num(op.throughput, 1),
                _ms(op.p50_ms),
                _ms(op.p90_ms),
                _ms(op.p95_ms),
                _ms(op.p99_ms),
                _ms(op.max_ms),
            ]
            lines.append(f"  {name:<28}" + "".join(f"{cell:>10}" for cell in row))
            extras = [op.not_measured] if op.not_measured else []
            if op.dropped:
                extras.append(f"dropped {op.dropped}")
            if op.lateness is not None:
                extras.append(f"send lateness p99 {_ms(op.lateness.p99_ms)}")
            for label, stats in notable_harness_times(op):
                extras.append(f"{label} p99 {_ms(stats.p99_ms)} (not in the latency)")
            if op.errors:
                extras.append("errors " + ", ".join(f"{k} {v}" for k, v in op.errors.items()))
            if extras:
                lines.append(f"    {'; '.join(extras)}")
        for note in scenario.notes:
            lines.append(f"  note: {note}")
        if verdict is not None:
            for check in verdict.checks:
                mark = "PASS" if check.passed else "FAIL"
                message = check.message.removeprefix(f"{scenario.name}: ")
                # Threshold and baseline messages start with the check's name: do not print it twice.
                named = check.name not in ("ran", "failures") and message.startswith(check.name)
                shown = message if named else f"{check.name}: {message}"
                lines.append(f"  [{mark}] {shown}")
    comparison = comparison_text(comparison_rows(summary))  # LLM_LOAD entries of several harnesses
    if comparison:
        lines.append(comparison)
    return "\n".join(lines)
