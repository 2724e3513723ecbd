"""One verdict from N shards: their results added up exactly, then judged as one run.

``merge_results`` adds the shards' recorders (counts, errors by type, HDR histograms, per-second
timelines, marks), builds ``summary.json`` for the whole scenario, judges every entry on the merged
numbers (default checks, thresholds, baseline) and writes one results directory: ``summary.json``,
``summary.csv``, ``report.html``, ``run.json`` and an ``events.jsonl`` that is every shard's events
(so ``python -m perf_tests report`` rebuilds the same summary), with each shard's own results in
``shard-<i>/`` beside it. The summary's ``scaleout`` section keeps each shard's numbers: a shard that
lagged or dropped arrivals is a finding, not something the total hides.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from perf_tests.baseline import Baseline
from perf_tests.errors import ConfigurationError
from perf_tests.recorder.event_codec import EVENTS_FILE_NAME
from perf_tests.recorder.recorder import Recorder
from perf_tests.reports.rebuild import write_reports, write_run_file
from perf_tests.reports.summary import (
    SUMMARY_FILE_NAME,
    EntryInput,
    RunInput,
    build_summary,
    scenario_summary,
    write_summary,
)
from perf_tests.results.summary import Planned, PlannedEntry, ScaleOut, ShardEntry, ShardPart, SummaryDocument
from perf_tests.results.verdict import Check
from perf_tests.runners.registry import setup_operations
from perf_tests.scaleout.result import SHARD_FILE_NAME, ShardResult
from perf_tests.scaleout.snapshot import merge_snapshots, restore
from perf_tests.session.session import CompletedRun

__all__ = ["check_shards", "merge_results", "shard_dir_name", "shard_lines"]

logger = logging.getLogger(__name__)


def shard_dir_name(index: int) -> str:
    """The folder of shard ``index``'s own results inside the merged results directory."""
    return f"shard-{index}"


def check_shards(results: Sequence[ShardResult]) -> int:
    """The shard count, after checking the results are every shard of one run exactly once."""
    if not results:
        raise ConfigurationError("no shard results to merge")
    count = results[0].shard.count
    run_ids = {result.run_id for result in results}
    if len(run_ids) > 1:
        raise ConfigurationError(f"the shard results come from different runs ({', '.join(sorted(run_ids))}); "
                                 "merge the shards of one run")
    if any(result.shard.count != count for result in results):
        raise ConfigurationError("the shard results disagree on the shard count: "
                                 + ", ".join(result.shard.label for result in results))
    seen: dict[int, ShardResult] = {}
    for result in results:
        if result.shard.index in seen:
            other = seen[result.shard.index].results_dir
            raise ConfigurationError(f"shard {result.shard.label} is given twice ({other} and {result.results_dir})")
        seen[result.shard.index] = result
    missing = [f"{index}/{count}" for index in range(count) if index not in seen]
    if missing:
        raise ConfigurationError(f"shard(s) {', '.join(missing)} missing: a verdict needs every shard's results")
    return count


START_TOLERANCE = 1.0
"""Seconds a shard may reach the shared start late before the merged verdict says its load was cut short."""


def _on_time_check(name: str, results: Sequence[ShardResult]) -> Check:
    """Every shard that ran the entry reached the shared start in time (else its part of the load was cut)."""
    late = [(result.shard.label, result.start_lateness_s) for result in results
            if name in result.ran and result.start_lateness_s > START_TOLERANCE]
    if not late:
        return Check("shards_on_time", True, f"{name}: every shard reached the shared start in time")
    worst = max(seconds for _, seconds in late)
    shards = ", ".join(f"shard {label} {seconds:.1f}s late" for label, seconds in late)
    return Check("shards_on_time", False,
                 f"{name}: {shards} at the shared start: those shards' part of the load was cut short; give a "
                 "longer lead (--perf-shard-lead, SCALE_OUT_START_LEAD, or a later --start-at)",
                 measured=round(worst, 3), limit=START_TOLERANCE)


_SHARD_STATS = ("count", "failed", "throughput", "p50_ms", "p99_ms", "dropped", "lateness")


def _shard_part(result: ShardResult) -> ShardPart:
    """One shard's numbers per entry and operation, for the summary's ``scaleout`` section."""
    recorder = Recorder()
    restore(recorder, result.snapshot)
    entries: dict[str, ShardEntry] = {}
    for name, record in recorder.scenarios.items():
        part = scenario_summary(record, setup_operations=setup_operations(record.mode)).as_json()
        operations = {op: {key: stats.get(key) for key in _SHARD_STATS if stats.get(key) is not None}
                      for op, stats in part["operations"].items()}
        entries[name] = ShardEntry.model_validate({
            "status": part["status"], "totals": part["totals"], "operations": operations,
            "start_lateness_s": part["attrs"].get("start_lateness_s"), "load": part["attrs"].get("load")})
    return ShardPart(
        shard=result.shard.label, run_id=result.shard_run_id, results_dir=result.results_dir,
        start_lateness_s=round(result.start_lateness_s, 3), interrupted=result.interrupted,
        ran=list(result.ran), entries=entries,
    )


def merge_results(
    results: Sequence[ShardResult],
    out_dir: Path,
    baseline: Baseline | None = None,
    shard_dirs: Sequence[Path] | None = None,
) -> CompletedRun:
    """Merge every shard's results into ``out_dir`` and judge them (see the module docstring).

    ``shard_dirs`` are the shards' results directories; those not already ``out_dir/shard-<i>`` are
    copied there (events, summary, shard.json).
    """
    count = check_shards(results)
    results = sorted(results, key=lambda result: result.shard.index)
    first = results[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    recorder = merge_snapshots([(f"shard {result.shard.label}", result.snapshot) for result in results])
    sources = list(shard_dirs) if shard_dirs else [Path(result.results_dir) for result in results]
    llm_notes = {entry.name: _merge_llm(recorder, entry.name, sources) for entry in first.entries
                 if entry.mode == "LLM_LOAD"}
    started = min(result.started for result in results)
    finished = max(result.finished for result in results)
    interrupted = any(result.interrupted for result in results)
    entries = []
    for entry in first.entries:
        note, llm_note = first.plan_notes.get(entry.name), llm_notes.get(entry.name)
        entries.append(EntryInput(
            name=entry.name, mode=entry.mode,
            planned=Planned(mode=entry.mode, start_offset_s=entry.start_offset_s, run_time_s=entry.run_time_s),
            thresholds=entry.thresholds, allowed_failure_rate=entry.allowed_failure_rate,
            setup_operations=setup_operations(entry.mode),
            notes_before=[note] if note else [], notes_after=[llm_note] if llm_note else [],
            checks=[_on_time_check(entry.name, results)],
        ))
    scenario_file = Path(first.scenario_file) if first.scenario_file else None
    run = RunInput(first.run_id, first.scenario, scenario_file, first.targets, started, finished, interrupted)
    scaleout = ScaleOut(shards=count, per_shard=[_shard_part(result) for result in results])
    summary = build_summary(run, recorder, entries, baseline=baseline, scaleout=scaleout)
    _gather_shard_files(results, out_dir, shard_dirs)
    _write_events(results, out_dir)
    write_run_file(out_dir, first.run_id, started, scenario_file, first.scenario,
                   [PlannedEntry.model_validate(entry.model_dump()) for entry in first.entries], first.targets)
    write_summary(summary, out_dir)
    try:
        write_reports(summary, out_dir)
    except Exception:  # a report bug must not cost the merge its summary and verdict
        logger.exception("could not write summary.csv / report.html; rebuild them with "
                         "'python -m perf_tests report %s'", out_dir)
    return CompletedRun(first.run_id, out_dir, summary, interrupted=interrupted)


def _merge_llm(recorder: Recorder, name: str, shard_dirs: Sequence[Path]) -> str | None:
    """An LLM_LOAD entry's GuideLLM statistics over every shard's GuideLLM reports, merged from their
    per-request records as GuideLLM computes them (``summarize``); a note when they could not be."""
    from perf_tests.errors import RunnerError
    from perf_tests.llm.results.merging import summarize
    from perf_tests.llm.results.parsing import load_report
    from perf_tests.llm.results.recording import SOURCE, entry_results_dir

    reports = []
    shards_with_reports = 0
    for folder in shard_dirs:
        found = False
        for path in sorted(entry_results_dir(folder, name).glob("*.json")):
            if path.name.startswith("benchmark_report"):
                continue  # the universal report, not GuideLLM's
            try:
                reports.append(load_report(path))
                found = True
            except RunnerError:
                continue
        shards_with_reports += found
    record = recorder.scenarios.get(name)
    if record is None or not record.external:
        return None
    if shards_with_reports < len(shard_dirs):
        return ("GuideLLM's statistics (ttft, itl, ...) are the first shard's: not every shard's GuideLLM report "
                "is here to merge")
    merged = summarize(reports)
    record.external = {metric: {**stats, "source": SOURCE} for metric, stats in merged.metrics().items()}
    return f"GuideLLM's statistics merged from {len(reports)} reports of {len(shard_dirs)} shards (per request)"


def _gather_shard_files(results: Sequence[ShardResult], out_dir: Path, shard_dirs: Sequence[Path] | None) -> None:
    for result, source in zip(results, shard_dirs or [Path(result.results_dir) for result in results], strict=True):
        target = out_dir / shard_dir_name(result.shard.index)
        if source.resolve() == target.resolve() or not source.is_dir():
            continue
        target.mkdir(parents=True, exist_ok=True)
        for name in (EVENTS_FILE_NAME, SUMMARY_FILE_NAME, SHARD_FILE_NAME):
            if (source / name).is_file():
                shutil.copyfile(source / name, target / name)


def _write_events(results: Sequence[ShardResult], out_dir: Path) -> None:
    """The merged ``events.jsonl``: every shard's events, one after the other (replaying it is merging)."""
    tmp = out_dir / f"{EVENTS_FILE_NAME}.tmp"
    with tmp.open("wb") as merged:
        for result in results:
            source = out_dir / shard_dir_name(result.shard.index) / EVENTS_FILE_NAME
            if not source.is_file():
                source = Path(result.results_dir) / EVENTS_FILE_NAME
            if source.is_file():
                with source.open("rb") as events:
                    shutil.copyfileobj(events, merged)
    tmp.replace(out_dir / EVENTS_FILE_NAME)


def shard_lines(summary: SummaryDocument) -> list[str]:
    """Per-shard lines for the console, under the merged table: what each shard sent, dropped, how late."""
    section = summary.scaleout
    if section is None:
        return []
    lines = [f"scale-out: {section.shards} shards, merged; per shard:"]
    for shard in section.per_shard:
        late = shard.start_lateness_s or 0
        head = f"  shard {shard.shard}" + (f" (reached the start {late:.1f}s late)" if late > 0.5 else "")
        lines.append(head)
        for name, entry in shard.entries.items():
            totals = entry.totals
            p99 = [op.p99_ms for op in entry.operations.values() if op.p99_ms is not None]
            load = entry.load or {}
            rate = f", {load['achieved_rate']:.1f}/s" if isinstance(load.get("achieved_rate"), int | float) else ""
            worst = f", worst p99 {max(p99):.1f}ms" if p99 else ""
            status = entry.status.value if entry.status is not None else None
            lines.append(f"    {name}: {totals.count} ops, {totals.failed} failed, "
                         f"{totals.dropped} dropped{rate}{worst} ({status})")
    return lines
