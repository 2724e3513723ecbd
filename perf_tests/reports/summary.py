"""Writing ``summary.json``: what ran, against what, and per scenario entry and operation how it went.

``build_summary`` builds the whole ``SummaryDocument`` (``perf_tests.results``) in one pass, from the
recorder's statistics (and statistics computed elsewhere, e.g. GuideLLM's) and what the caller gathered
before (``EntryInput``: each entry's plan, thresholds, how its runner exited, its Prometheus aggregates,
notes and further checks; the baseline; the generator's health; the shards): per entry it summarises the
operations, judges them (default checks, thresholds, baseline) and builds the entry with its verdict.
``write_summary`` writes it.
"""

from __future__ import annotations

import json
import platform
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perf_tests import __version__
from perf_tests.logger.redaction import redact_data
from perf_tests.observability.harness import HarnessReport
from perf_tests.observability.models import ObservationSummary
from perf_tests.recorder.event_codec import finite_json
from perf_tests.recorder.operation_summary import OperationSummary
from perf_tests.recorder.recorder import ScenarioRecord
from perf_tests.results.status import EntryStatus
from perf_tests.results.summary import (
    SCHEMA_VERSION,
    Environment,
    Planned,
    ScaleOut,
    ScenarioPart,
    SummaryDocument,
    Target,
    Totals,
)
from perf_tests.results.verdict import Check, EntryVerdict
from perf_tests.thresholds.evaluate import baseline_overrides, judge_part, requested_percentiles

if TYPE_CHECKING:
    from perf_tests.baseline.compare import Baseline
    from perf_tests.recorder.recorder import Recorder

__all__ = [
    "SUMMARY_FILE_NAME",
    "EntryInput",
    "RunInput",
    "build_summary",
    "environment",
    "iso_time",
    "scenario_summary",
    "write_summary",
]

SUMMARY_FILE_NAME = "summary.json"


def iso_time(epoch: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC with milliseconds (``2025-01-31T12:00:00.000Z``)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment() -> Environment:
    """Versions and host of this run."""
    return Environment(perf_tests=__version__, kfp=_version("kfp"), guidellm=_version("guidellm"),
                       python=platform.python_version(), platform=platform.platform(), host=socket.gethostname())


@dataclass
class RunInput:
    """The run as a whole: its id, scenario, targets, window and whether it was interrupted."""

    run_id: str
    scenario_raw: Sequence[Any]
    scenario_path: Path | None
    targets: Mapping[str, Target]
    started: float
    finished: float
    interrupted: bool = False


@dataclass
class EntryInput:
    """What the summary of one entry needs beyond the recorder, gathered before it is built.

    ``exit_status``/``exit_message`` say how its runner exited when that overrides the recorded status
    (hung, or an error the runner did not record); ``setup_operations`` are its mode's set-up and clean-up
    calls (no rate); ``notes_before``/``notes_after`` go around the recorded notes; ``checks`` are added to
    the verdict after the default, threshold and baseline checks.
    """

    name: str
    mode: str
    planned: Planned | None = None
    thresholds: Sequence[str] = ()
    allowed_failure_rate: float = 0.0
    setup_operations: frozenset[str] = frozenset()
    exit_status: EntryStatus | None = None
    exit_message: str | None = None
    prometheus: ObservationSummary | None = None
    notes_before: Sequence[str] = ()
    notes_after: Sequence[str] = ()
    checks: Sequence[Check] = field(default_factory=list)


def scenario_summary(
    record: ScenarioRecord,
    planned: Planned | None = None,
    setup_operations: frozenset[str] = frozenset(),
    percentiles: Mapping[str, Mapping[str, float]] | None = None,
    *,
    status: EntryStatus | None = None,
    message: str | None = None,
    notes: Sequence[str] | None = None,
    prometheus: ObservationSummary | None = None,
) -> ScenarioPart:
    """One entry's window, status and per-operation statistics, as measured (not judged).

    ``percentiles`` are further ones thresholds ask for (operation -> ``p99.9_ms`` -> 99.9), from the
    recorder's histograms, so the summary alone can be judged again; ``setup_operations`` get no rate.
    """
    window = None
    if record.started is not None and record.finished is not None:
        window = max(0.0, record.finished - record.started)
    load_window = None  # the load alone (an LLM_LOAD entry's harness run, not its stack's deployment)
    if record.load_started is not None and record.load_finished is not None:
        load_window = max(0.0, record.load_finished - record.load_started)
    operations: dict[str, OperationSummary] = {}
    for name, stats in sorted(record.operations.items()):
        values = stats.summary(window_seconds=load_window if load_window is not None else window)
        if name in setup_operations:
            values["throughput"] = None  # set-up and clean-up calls: a rate would mean nothing
        for key, percentile in (percentiles or {}).get(name, {}).items():
            values[key] = stats.percentile_ms(percentile)
        operations[name] = OperationSummary.model_validate(finite_json(values))
    for name, external in sorted(record.external.items()):
        operations[name] = OperationSummary.model_validate(finite_json(dict(external)))
    own = [op for op in operations.values() if op.source is None]
    totals = Totals(count=sum(op.count or 0 for op in own), failed=sum(op.failed or 0 for op in own),
                    dropped=sum(int(op.dropped or 0) for op in operations.values()))
    recorded = EntryStatus(record.status) if record.status else EntryStatus.NOT_RUN
    return ScenarioPart.model_validate({
        "name": record.name,
        "mode": record.mode,
        "status": status or recorded,
        "message": message if status is not None else record.message,
        "start": iso_time(record.started),
        "end": iso_time(record.finished),
        "duration_s": window,
        "load_start": iso_time(record.load_started),
        "load_end": iso_time(record.load_finished),
        "load_duration_s": load_window,
        "operations": operations,
        "totals": totals,
        "notes": list(record.notes if notes is None else notes),
        "attrs": finite_json(dict(record.attrs)),
        "planned": planned,
        "prometheus": prometheus,
    })


def _entry(record: ScenarioRecord, entry: EntryInput, baseline: Baseline | None) -> ScenarioPart:
    """One entry measured, then judged: its part with its thresholds, baseline comparison and verdict."""
    measured = scenario_summary(
        record, entry.planned, entry.setup_operations, requested_percentiles(entry.thresholds),
        status=entry.exit_status, message=entry.exit_message,
        notes=[*entry.notes_before, *record.notes, *entry.notes_after], prometheus=entry.prometheus,
    )
    baseline_part = baseline.part(entry.name) if baseline is not None else None
    judged = judge_part(measured, entry.allowed_failure_rate, entry.thresholds, baseline_part)
    checks = list(judged.checks)
    compared = None
    if baseline is not None:
        compared, baseline_checks = baseline.compare(measured, baseline_overrides(entry.thresholds))
        checks += baseline_checks
    checks += entry.checks
    return measured.model_copy(update={
        "thresholds": judged.thresholds,
        "baseline": compared,
        "verdict": EntryVerdict(measured.name, measured.mode, checks),
    })


def build_summary(
    run: RunInput,
    recorder: Recorder,
    entries: Sequence[EntryInput],
    baseline: Baseline | None = None,
    harness: HarnessReport | None = None,
    scaleout: ScaleOut | None = None,
    rebuilt_at: str | None = None,
) -> SummaryDocument:
    """The whole ``summary.json`` document: every entry measured and judged (see the module docstring).

    It passes when every entry does and the run was not interrupted; a rebuilt summary (``rebuilt_at``,
    from events.jsonl after the run died) never passes. Secrets (a password in a URL, a registered token
    echoed in a message) are redacted from every text of it.
    """
    parts = [_entry(recorder.scenarios.get(entry.name) or ScenarioRecord(name=entry.name, mode=entry.mode),
                    entry, baseline) for entry in entries]
    passed = all(part.verdict is not None and part.verdict.passed for part in parts)
    document = SummaryDocument(
        schema_version=SCHEMA_VERSION,
        run_id=run.run_id,
        start=iso_time(run.started),
        end=iso_time(run.finished),
        duration_s=run.finished - run.started,
        interrupted=run.interrupted,
        passed=passed and not run.interrupted and rebuilt_at is None,
        scenario_file=str(run.scenario_path) if run.scenario_path else None,
        scenario=list(finite_json(list(run.scenario_raw))),
        targets=dict(run.targets),
        environment=environment(),
        scenarios=parts,
        harness=harness,
        scaleout=scaleout,
        rebuilt_from_events=True if rebuilt_at is not None else None,
        rebuilt_at=rebuilt_at,
    )
    return SummaryDocument.model_validate(redact_data(document.as_json()))


def write_summary(summary: SummaryDocument, results_dir: Path) -> Path:
    """Write ``summary.json`` atomically (a crash never leaves half a file), as strict JSON."""
    path = results_dir / SUMMARY_FILE_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(finite_json(summary.as_json()), indent=2, default=str, allow_nan=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return path
