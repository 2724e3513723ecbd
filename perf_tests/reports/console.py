"""The console table printed at the end of a run (pytest terminal summary and the CLI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perf_tests.reports.harness_comparison import comparison_rows, comparison_text

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


def format_summary_table(summary: Mapping[str, Any], verdicts: Sequence[Mapping[str, Any]] = ()) -> str:
    """A fixed-width table: one block per scenario, one row per operation, then its checks."""
    lines: list[str] = []
    target_lines = [f"target: {t.get('description') or t.get('url')}" for t in summary.get("targets", {}).values()]
    lines.extend(target_lines)
    by_name = {v["name"]: v for v in verdicts}
    header = f"  {'operation':<28}" + "".join(f"{c:>10}" for c in _COLUMNS)
    for scenario in summary.get("scenarios", []):
        verdict = by_name.get(scenario["name"])
        state = "" if verdict is None else ("PASSED" if verdict["passed"] else "FAILED")
        window = scenario.get("duration_s")
        span = f", {window:.1f}s" if window else ""
        load = scenario.get("load_duration_s")
        if isinstance(load, int | float):
            span += f", load {load:.1f}s"  # the window its rates are per second of
        lines.append(f"{scenario['name']} ({scenario['mode']}{span}) {state}".rstrip())
        operations = scenario.get("operations", {})
        if operations:
            lines.append(header)
        for name, op in operations.items():
            row = [
                _num(op.get("count")),
                _num(op.get("failed")),
                _num(op.get("throughput"), 1),
                _ms(op.get("p50_ms")),
                _ms(op.get("p90_ms")),
                _ms(op.get("p95_ms")),
                _ms(op.get("p99_ms")),
                _ms(op.get("max_ms")),
            ]
            lines.append(f"  {name:<28}" + "".join(f"{cell:>10}" for cell in row))
            extras = [str(op["not_measured"])] if op.get("not_measured") else []
            if op.get("dropped"):
                extras.append(f"dropped {op['dropped']}")
            lateness = op.get("lateness")
            if isinstance(lateness, Mapping):
                extras.append(f"send lateness p99 {_ms(lateness.get('p99_ms'))}")
            queue_wait = op.get("queue_wait")
            if isinstance(queue_wait, Mapping) and (queue_wait.get("p99_ms") or 0) >= 1:
                extras.append(f"queue wait p99 {_ms(queue_wait.get('p99_ms'))} (not in the latency)")
            if op.get("errors"):
                extras.append("errors " + ", ".join(f"{k} {v}" for k, v in op["errors"].items()))
            if extras:
                lines.append(f"    {'; '.join(extras)}")
        for note in scenario.get("notes", []):
            lines.append(f"  note: {note}")
        if verdict is not None:
            for check in verdict.get("checks", []):
                mark = "PASS" if check["passed"] else "FAIL"
                message = str(check["message"]).removeprefix(f"{scenario['name']}: ")
                # Threshold and baseline messages start with the check's name: do not print it twice.
                named = check["name"] not in ("ran", "failures") and message.startswith(str(check["name"]))
                shown = message if named else f"{check['name']}: {message}"
                lines.append(f"  [{mark}] {shown}")
    comparison = comparison_text(comparison_rows(summary))  # LLM_LOAD entries of several harnesses
    if comparison:
        lines.append(comparison)
    return "\n".join(lines)
