"""``summary.csv``: the summary flattened for spreadsheets, one row per scenario entry and operation.

Durations are milliseconds, ``throughput`` is attempts per second, ``errors`` is ``type=count`` pairs
separated by ``;``. An entry without operations still gets one row (with an empty ``operation``) so no
entry disappears from the sheet. Every row repeats the run id and the entry's verdict, so sheets of
several runs can be pasted under one another.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def summary_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The CSV rows of a summary, as dicts keyed by ``CSV_COLUMNS``."""
    rows: list[dict[str, Any]] = []
    for part in summary.get("scenarios", []):
        verdict = part.get("verdict") or {}
        base = {
            "run_id": summary.get("run_id"),
            "scenario": part.get("name"),
            "mode": part.get("mode"),
            "status": part.get("status"),
            "passed": verdict.get("passed"),
            "start": part.get("start"),
            "end": part.get("end"),
            "duration_s": part.get("duration_s"),
        }
        operations: Mapping[str, Any] = part.get("operations") or {}
        if not operations:
            rows.append(dict(base))
        for name, op in operations.items():
            lateness = op.get("lateness") if isinstance(op.get("lateness"), Mapping) else {}
            errors = op.get("errors") or {}
            row = dict(base)
            row.update({key: op.get(key) for key in CSV_COLUMNS if key in op and key not in base})
            row["operation"] = name
            row["source"] = op.get("source")
            row["lateness_p99_ms"] = lateness.get("p99_ms")
            row["errors"] = ";".join(f"{error}={count}" for error, count in sorted(errors.items()))
            rows.append(row)
    return rows


def summary_csv(summary: Mapping[str, Any]) -> str:
    """The whole ``summary.csv`` text (header first)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in summary_rows(summary):
        writer.writerow({key: _cell(row.get(key)) for key in CSV_COLUMNS})
    return buffer.getvalue()


def write_summary_csv(summary: Mapping[str, Any], results_dir: Path) -> Path:
    """Write ``summary.csv`` next to ``summary.json`` (atomically) and return its path."""
    path = results_dir / CSV_FILE_NAME
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(summary_csv(summary), encoding="utf-8")
    tmp.replace(path)
    return path
