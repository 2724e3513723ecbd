"""Writing the report files of a results directory, and rebuilding them after the fact.

At the end of every run (also an interrupted one) ``write_reports`` writes ``summary.csv`` and
``report.html`` next to ``summary.json``. ``run.json``, written when the run starts, keeps what a
report needs if the process dies before the end (``kill -9``, OOM): the run id, the scenario as run,
each entry's name, mode, window, thresholds and allowed failure rate, and the target.
``rebuild_reports`` (``python -m perf_tests report RESULTS_DIR``) rewrites the HTML and CSV from
``summary.json`` and ``events.jsonl``, first rebuilding ``summary.json`` from ``run.json`` and
``events.jsonl`` when it is missing; such a summary says ``"rebuilt_from_events": true`` and
``"interrupted": true``, and entries that never finished have status ``interrupted``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perf_tests.errors import ConfigurationError
from perf_tests.recorder.recorder import EVENTS_FILE_NAME
from perf_tests.reports.csv_report import write_summary_csv
from perf_tests.reports.html_report import write_html_report
from perf_tests.reports.replay import replay
from perf_tests.reports.summary import SUMMARY_FILE_NAME, build_summary, write_summary
from perf_tests.thresholds.evaluate import judge_with_thresholds

__all__ = ["RUN_FILE_NAME", "ReportFiles", "rebuild_reports", "summary_from_events", "write_reports", "write_run_file"]

RUN_FILE_NAME = "run.json"
logger = logging.getLogger(__name__)


@dataclass
class ReportFiles:
    """The report files of a results directory; ``rebuilt`` when summary.json came from events.jsonl."""

    summary: Path
    csv: Path
    html: Path
    rebuilt: bool = False


def write_run_file(
    results_dir: Path,
    run_id: str,
    started: float,
    scenario_file: Path | None,
    scenario_raw: Sequence[Any],
    entries: Sequence[Mapping[str, Any]],
    targets: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``run.json``: what a report needs when the run dies before writing ``summary.json``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / RUN_FILE_NAME
    document = {
        "run_id": run_id,
        "started": started,
        "scenario_file": str(scenario_file) if scenario_file else None,
        "scenario": list(scenario_raw),
        "entries": [dict(entry) for entry in entries],
        "targets": dict(targets or {}),
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def write_reports(summary: Mapping[str, Any], results_dir: Path) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``report.html`` for a finished (or interrupted) run."""
    csv_path = write_summary_csv(summary, results_dir)
    html_path = write_html_report(summary, results_dir, results_dir / EVENTS_FILE_NAME)
    return csv_path, html_path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} cannot be read as JSON ({exc})") from None


def summary_from_events(results_dir: Path) -> dict[str, Any]:
    """A ``summary.json`` document rebuilt from ``events.jsonl`` (and ``run.json`` when present), with
    each entry judged by its default checks and thresholds."""
    events = results_dir / EVENTS_FILE_NAME
    if not events.is_file():
        raise ConfigurationError(f"{results_dir} has neither {SUMMARY_FILE_NAME} nor {EVENTS_FILE_NAME}; "
                                 "is it a perf-tests results directory?")
    run = _read_json(results_dir / RUN_FILE_NAME)
    run = run if isinstance(run, dict) else {}
    replayed = replay(events)
    recorder = replayed.recorder
    entries: list[Mapping[str, Any]] = [e for e in run.get("entries") or [] if isinstance(e, Mapping)]
    planned: dict[str, dict[str, Any]] = {
        str(entry.get("name")): {"mode": entry.get("mode"), "start_offset_s": entry.get("start_offset_s"),
                                 "run_time_s": entry.get("run_time_s")}
        for entry in entries
    }
    for name, record in recorder.scenarios.items():
        planned.setdefault(name, {"mode": record.mode})
        if record.started is not None and record.finished is None:
            record.finished = replayed.last_by_scenario.get(name, record.started)
            record.status = "interrupted"
            record.message = "the run ended before this entry finished (summary rebuilt from events.jsonl)"
    started = run.get("started") if isinstance(run.get("started"), int | float) else replayed.first
    finished = replayed.last if replayed.last is not None else started
    scenario_file = run.get("scenario_file")
    summary = build_summary(
        str(run.get("run_id") or results_dir.name),
        recorder,
        run.get("scenario") or [],
        Path(scenario_file) if scenario_file else None,
        planned,
        run.get("targets") or {},
        float(started or 0.0),
        float(finished or started or 0.0),
        interrupted=True,
    )
    by_name = {str(entry.get("name")): entry for entry in entries}
    for part in summary["scenarios"]:
        entry = by_name.get(part["name"], {})
        thresholds = [str(t) for t in entry.get("thresholds") or []]
        rate = entry.get("allowed_failure_rate")
        verdict = judge_with_thresholds(part, float(rate) if isinstance(rate, int | float) else 0.0, thresholds)
        part["verdict"] = verdict.as_json()
    summary["passed"] = False
    summary["rebuilt_from_events"] = True
    summary["rebuilt_at"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return summary


def rebuild_reports(results_dir: Path) -> ReportFiles:
    """Rewrite ``report.html`` and ``summary.csv`` (and ``summary.json`` if missing) of a results directory."""
    results_dir = results_dir.expanduser()
    if not results_dir.is_dir():
        raise ConfigurationError(f"{results_dir} is not a directory; give a run's results directory")
    summary_path = results_dir / SUMMARY_FILE_NAME
    summary = _read_json(summary_path)
    rebuilt = False
    if summary is None:
        summary = summary_from_events(results_dir)
        summary_path = write_summary(summary, results_dir)
        rebuilt = True
        logger.info("rebuilt %s from %s", summary_path, EVENTS_FILE_NAME)
    elif not isinstance(summary, dict) or "scenarios" not in summary:
        raise ConfigurationError(f"{summary_path} is not a perf-tests summary (no scenarios list)")
    csv_path, html_path = write_reports(summary, results_dir)
    return ReportFiles(summary_path, csv_path, html_path, rebuilt)
