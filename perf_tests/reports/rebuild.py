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

from perf_tests.errors import ConfigurationError, echo
from perf_tests.models.fields import expand_user
from perf_tests.recorder.event_codec import EVENTS_FILE_NAME
from perf_tests.reports.csv_report import write_summary_csv
from perf_tests.reports.html_report import write_html_report
from perf_tests.reports.replay import replay
from perf_tests.reports.summary import SUMMARY_FILE_NAME, EntryInput, RunInput, build_summary, write_summary
from perf_tests.results.read import model_problems, problems_text, read_summary
from perf_tests.results.status import EntryStatus
from perf_tests.results.summary import Planned, PlannedEntry, RunFile, SummaryDocument, Target
from perf_tests.runners.registry import setup_operations
from perf_tests.thresholds.parser import parse_threshold

__all__ = [
    "RUN_FILE_NAME",
    "ReportFiles",
    "read_run_file",
    "rebuild_reports",
    "summary_from_events",
    "write_reports",
    "write_run_file",
]

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
    entries: Sequence[PlannedEntry],
    targets: Mapping[str, Target] | None = None,
) -> Path:
    """Write ``run.json``: what a report needs when the run dies before writing ``summary.json``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / RUN_FILE_NAME
    document = RunFile(
        run_id=run_id,
        started=started,
        scenario_file=str(scenario_file) if scenario_file else None,
        scenario=list(scenario_raw),
        entries=list(entries),
        targets=dict(targets or {}),
    )
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document.as_json(), indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def write_reports(summary: SummaryDocument, results_dir: Path) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``report.html`` for a finished (or interrupted) run."""
    csv_path = write_summary_csv(summary, results_dir)
    html_path = write_html_report(summary, results_dir, results_dir / EVENTS_FILE_NAME)
    return csv_path, html_path


def read_run_file(path: Path) -> RunFile:
    """``run.json``, checked (an empty one when it does not exist); ``ConfigurationError`` naming the file
    and what is wrong otherwise."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RunFile()
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigurationError(f"{path} cannot be read as JSON ({str(exc)[:200]})") from None
    problems = model_problems(RunFile, document)
    if problems:
        raise ConfigurationError(f"{path} is not a valid perf-tests run.json: {problems_text(problems)}")
    return RunFile.model_validate(document)


def summary_from_events(results_dir: Path) -> SummaryDocument:
    """A ``summary.json`` document rebuilt from ``events.jsonl`` (and ``run.json`` when present), with
    each entry judged by its default checks and thresholds."""
    events = results_dir / EVENTS_FILE_NAME
    if not events.is_file():
        raise ConfigurationError(f"{results_dir} has neither {SUMMARY_FILE_NAME} nor {EVENTS_FILE_NAME}; "
                                 "is it a perf-tests results directory?")
    run_path = results_dir / RUN_FILE_NAME
    run = read_run_file(run_path)
    for index, planned in enumerate(run.entries):  # a bad threshold names its place in run.json
        for text in planned.thresholds:
            try:
                parse_threshold(text)
            except ValueError as exc:
                raise ConfigurationError(f"{run_path}: entries[{index}] ({planned.name[:60]}).thresholds: "
                                         f"{exc}") from None
    replayed = replay(events)
    recorder = replayed.recorder
    entries = {planned.name: EntryInput(
        name=planned.name, mode=planned.mode or "",
        planned=Planned(mode=planned.mode, start_offset_s=planned.start_offset_s, run_time_s=planned.run_time_s),
        thresholds=planned.thresholds, allowed_failure_rate=planned.allowed_failure_rate or 0.0,
        setup_operations=setup_operations(planned.mode or ""),
    ) for planned in run.entries}
    for name, record in recorder.scenarios.items():
        entries.setdefault(name, EntryInput(name=name, mode=record.mode, planned=Planned(mode=record.mode),
                                            setup_operations=setup_operations(record.mode)))
        if record.started is not None and record.finished is None:
            record.finished = replayed.last_by_scenario.get(name, record.started)
            record.status = EntryStatus.INTERRUPTED
            record.message = "the run ended before this entry finished (summary rebuilt from events.jsonl)"
    started = run.started if run.started is not None else replayed.first
    finished = replayed.last if replayed.last is not None else started
    header = RunInput(
        run.run_id or results_dir.name,
        run.scenario,
        Path(run.scenario_file) if run.scenario_file else None,
        run.targets,
        float(started or 0.0),
        float(finished or started or 0.0),
        interrupted=True,
    )
    rebuilt_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return build_summary(header, recorder, list(entries.values()), rebuilt_at=rebuilt_at)


def rebuild_reports(results_dir: Path) -> ReportFiles:
    """Rewrite ``report.html`` and ``summary.csv`` (and ``summary.json`` if missing) of a results directory."""
    try:
        results_dir = expand_user(str(results_dir))
        is_dir = results_dir.is_dir()
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"results directory {echo(str(results_dir))}: {exc}") from None
    if not is_dir:
        raise ConfigurationError(f"{results_dir} is not a directory; give a run's results directory")
    summary_path = results_dir / SUMMARY_FILE_NAME
    rebuilt = False
    try:
        summary = read_summary(summary_path, "summary")
    except FileNotFoundError:
        summary = summary_from_events(results_dir)
        summary_path = write_summary(summary, results_dir)
        rebuilt = True
        logger.info("rebuilt %s from %s", summary_path, EVENTS_FILE_NAME)
    csv_path, html_path = write_reports(summary, results_dir)
    return ReportFiles(summary_path, csv_path, html_path, rebuilt)
