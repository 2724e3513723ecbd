"""``summary.csv``: the summary flattened for spreadsheets, one row per scenario entry and operation.

Durations are milliseconds, ``throughput`` is attempts per second, ``errors`` is ``type=count`` pairs
separated by ``;``. An entry without operations still gets one row (with an empty ``operation``) so no
entry disappears from the sheet. Every row repeats the run id and the entry's verdict, so sheets of
several runs can be pasted under one another.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from perf_tests.results.summary import SummaryDocument

__all__ = ["CSV_COLUMNS", "CSV_FILE_NAME", "summary_csv", "write_summary_csv"]

CSV_FILE_NAME = "summary.csv"
CSV_COLUMNS = (
    "run_id",
    "scenario",
    "mode",
    "status",
    "passed",
    "start",
    "end",
    "duration_s",
    "operation",
    "source",
    "count",
    "ok",
    "failed",
    "success_rate",
    "throughput",
    "min_ms",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "dropped",
    "lateness_p99_ms",
    "errors",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def summary_rows(summary: SummaryDocument) -> list[dict[str, Any]]:
    """The CSV rows of a summary, as dicts keyed by ``CSV_COLUMNS``."""
    rows: list[dict[str, Any]] = []
    for part in summary.scenarios:
        base = {
            "run_id": summary.run_id,
            "scenario": part.name,
            "mode": part.mode,
            "status": part.status,
            "passed": part.verdict.passed if part.verdict is not None else None,
            "start": part.start,
            "end": part.end,
            "duration_s": part.duration_s,
        }
        if not part.operations:
            rows.append(dict(base))
        for name, op in part.operations.items():
            row = dict(base)
            row.update({key: op.stat(key) for key in _OPERATION_COLUMNS})
            row["operation"] = name
            row["lateness_p99_ms"] = op.lateness.p99_ms if op.lateness is not None else None
            row["errors"] = ";".join(f"{error}={count}" for error, count in sorted(op.errors.items()))
            rows.append(row)
    return rows


_OPERATION_COLUMNS = ("source", "count", "ok", "failed", "success_rate", "throughput", "min_ms", "mean_ms", "p50_ms",
                      "p90_ms", "p95_ms", "p99_ms", "max_ms", "dropped")
"""The columns that are an operation's statistic of the same name."""


def summary_csv(summary: SummaryDocument) -> str:
    """The whole ``summary.csv`` text (header first)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in summary_rows(summary):
        writer.writerow({key: _cell(row.get(key)) for key in CSV_COLUMNS})
    return buffer.getvalue()


def write_summary_csv(summary: SummaryDocument, results_dir: Path) -> Path:
    """Write ``summary.csv`` next to ``summary.json`` (atomically) and return its path."""
    path = results_dir / CSV_FILE_NAME
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(summary_csv(summary), encoding="utf-8")
    tmp.replace(path)
    return path
