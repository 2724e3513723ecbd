"""``summary.json``: what ran, against what, and per scenario and operation how it went.

The summary is built from the recorder's statistics (and statistics computed elsewhere, e.g. GuideLLM's)
when the run ends; ``SCHEMA_VERSION`` changes whenever its shape does.
"""

from __future__ import annotations

import json
import platform
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from perf_tests import __version__
from perf_tests.recorder.recorder import Recorder, ScenarioRecord, finite_json

__all__ = ["SCHEMA_VERSION", "SUMMARY_FILE_NAME", "build_summary", "write_summary"]

SCHEMA_VERSION = 1
SUMMARY_FILE_NAME = "summary.json"


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Versions and host of this run."""
    return {
        "perf_tests": __version__,
        "kfp": _version("kfp"),
        "guidellm": _version("guidellm"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
    }


def scenario_summary(record: ScenarioRecord, planned: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One scenario entry's window, status and per-operation statistics."""
    window = None
    if record.started is not None and record.finished is not None:
        window = max(0.0, record.finished - record.started)
    operations: dict[str, Any] = {}
    for name, stats in sorted(record.operations.items()):
        operations[name] = stats.summary(window_seconds=window)
        if name in _NOT_RATES:
            operations[name]["throughput"] = None  # set-up and clean-up calls: a rate would mean nothing
    for name, external in sorted(record.external.items()):
        operations[name] = dict(external)
    totals = {
        "count": sum(op.get("count") or 0 for op in operations.values() if op.get("source") is None),
        "failed": sum(op.get("failed") or 0 for op in operations.values() if op.get("source") is None),
    }
    dropped = sum(int(op.get("dropped") or 0) for op in operations.values())
    summary: dict[str, Any] = {
        "name": record.name,
        "mode": record.mode,
        "status": record.status or "not_run",
        "message": record.message,
        "start": _iso(record.started),
        "end": _iso(record.finished),
        "duration_s": window,
        "operations": operations,
        "totals": {**totals, "dropped": dropped},
        "notes": list(record.notes),
        "attrs": dict(record.attrs),
    }
    if planned is not None:
        summary["planned"] = dict(planned)
    return summary


# Set-up and clean-up calls of the pipeline modes: their count per second of the window means nothing.
# (RANDOM_GETS has its own endpoint names, e.g. list_pipeline_versions, which are rates.)
_NOT_RATES = frozenset({
    "upload_pipeline", "create_experiment", "delete_experiment", "delete_run", "delete_pipeline",
    "delete_pipeline_version", "terminate_run", "create_recurring_run", "disable_recurring_run",
    "delete_recurring_run", "get_default_experiment", "find_pipeline_versions",
})


def build_summary(
    run_id: str,
    recorder: Recorder,
    scenario_raw: Sequence[Any],
    scenario_path: Path | None,
    planned: Mapping[str, Mapping[str, Any]],
    targets: Mapping[str, Any],
    started: float,
    finished: float,
    interrupted: bool = False,
) -> dict[str, Any]:
    """The whole ``summary.json`` document (verdicts are added by the caller)."""
    scenarios = []
    for name, plan in planned.items():
        record = recorder.scenarios.get(name) or ScenarioRecord(name=name, mode=str(plan.get("mode", "")))
        scenarios.append(scenario_summary(record, plan))
    return {
        "schemaVersion": SCHEMA_VERSION,
        "run_id": run_id,
        "start": _iso(started),
        "end": _iso(finished),
        "duration_s": finished - started,
        "interrupted": interrupted,
        "scenario_file": str(scenario_path) if scenario_path else None,
        "scenario": list(scenario_raw),
        "targets": dict(targets),
        "environment": environment(),
        "scenarios": scenarios,
    }


def write_summary(summary: Mapping[str, Any], results_dir: Path) -> Path:
    """Write ``summary.json`` atomically (a crash never leaves half a file), as strict JSON: a statistic
    that is NaN or infinite (e.g. from GuideLLM) is written as null, which every JSON reader accepts."""
    path = results_dir / SUMMARY_FILE_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(finite_json(summary), indent=2, default=str, allow_nan=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return path
