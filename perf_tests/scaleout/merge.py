"""One verdict from N shards: their results added up exactly, then judged as one run.

``merge_results`` adds the shards' recorders (counts, errors by type, HDR histograms, per-second
timelines, marks), builds ``summary.json`` for the whole scenario, judges every entry on the merged
numbers (default checks, thresholds, baseline) and writes one results directory: ``summary.json``,
``summary.csv``, ``report.html``, ``run.json`` and an ``events.jsonl`` that is every shard's events
(so ``python -m perf_tests report`` rebuilds the same summary), with each shard's own results in
``shard-<i>/`` beside it. The summary's ``scaleout`` section keeps each shard's numbers: a shard that
lagged or dropped arrivals is a finding, not something the total hides.

Observability as in a one-process run: Prometheus measures the target, so the merge queries it once over
each merged entry's window (and its stages and copies) on the shared clock, stores ``prometheus/<entry>.json``
and judges ``prom:`` thresholds on it (this process's ``PROMETHEUS_*``, or the URL a shard had, with this
process's token). The load generator's health is per shard (each sampled its own process): each shard's in
``scaleout.per_shard[].harness``, the worst of them as the run's ``harness``, and ``strictHarness`` fails an
entry when a shard that ran it was saturated.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perf_tests.baseline import Baseline
from perf_tests.config.settings import PrometheusSettings
from perf_tests.errors import ConfigurationError, PerfTestsError
from perf_tests.llm.results.merging import MergedLlmResults
from perf_tests.llm.results.parsing import GuidellmReport
from perf_tests.logger.redaction import register_secret
from perf_tests.observability.client import PrometheusClient
from perf_tests.observability.collect import not_configured, observe_entries
from perf_tests.observability.harness import merge_reports
from perf_tests.observability.models import EntryObservation, Window
from perf_tests.recorder.event_codec import EVENTS_FILE_NAME
from perf_tests.recorder.recorder import Recorder, ScenarioRecord
from perf_tests.reports.rebuild import write_reports, write_run_file
from perf_tests.reports.summary import (
    SUMMARY_FILE_NAME,
    EntryInput,
    RunInput,
    build_summary,
    scenario_summary,
    write_summary,
)
from perf_tests.results.summary import Planned, ScaleOut, ShardEntry, ShardPart, SummaryDocument
from perf_tests.results.verdict import Check
from perf_tests.runners.registry import setup_operations
from perf_tests.scaleout.result import SHARD_FILE_NAME, ShardResult
from perf_tests.scaleout.snapshot import merge_snapshots, restore
from perf_tests.session.session import CompletedRun

__all__ = ["check_shards", "merge_results", "merged_prometheus_settings", "shard_dir_name", "shard_lines"]

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


def _on_time_check(name: str, results: Sequence[ShardResult]) -> Check:
    """Every shard that ran the entry reached the shared start within its tolerance (``--start-tolerance``:
    1 s, pods ``SCALE_OUT_START_TOLERANCE``), else its part of the load was cut short."""
    ran = [result for result in results if name in result.ran]
    bound = max((result.shard.start_tolerance for result in ran), default=0.0)
    late = [(result.shard.label, result.start_lateness_s) for result in ran
            if result.start_lateness_s > result.shard.start_tolerance]
    worst_all = max((result.start_lateness_s for result in ran), default=0.0)
    if not late:
        return Check("shards_on_time", True, f"{name}: every shard reached the shared start in time (latest "
                     f"{worst_all:.2f}s after it, {bound:g}s allowed)", measured=round(worst_all, 3), limit=bound)
    worst = max(seconds for _, seconds in late)
    shards = ", ".join(f"shard {label} {seconds:.1f}s late" for label, seconds in late)
    return Check("shards_on_time", False,
                 f"{name}: {shards} at the shared start (more than the {bound:g}s allowed): those shards' part of "
                 "the load was cut short; give a longer lead (--perf-shard-lead, SCALE_OUT_START_LEAD, or a later "
                 "--start-at)", measured=round(worst, 3), limit=bound)


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
        harness=result.harness.without_samples() if result.harness is not None else None,
    )


def _harness_check(name: str, results: Sequence[ShardResult], record: ScenarioRecord | None) -> Check | None:
    """``strictHarness``: fails when a shard that ran the entry had a saturated load generator while it ran
    (``record``: the merged entry's, for its window)."""
    saturated = [f"shard {result.shard.label}: {reasons}" for result in results
                 if name in result.ran and result.harness is not None
                 and (reasons := result.harness.saturation(name, record))]
    if not saturated:
        return None
    return Check("harness", False, f"{name}: the load generator was saturated (strictHarness): "
                 + "; ".join(saturated))


def merged_prometheus_settings(own: PrometheusSettings | None,
                               results: Sequence[ShardResult]) -> PrometheusSettings | None:
    """This process's Prometheus settings when they name one, else the URL (and TLS settings) a shard had,
    with this process's token (a token never travels in shard.json); None: no Prometheus to ask."""
    if own is not None and own.enabled:
        return own
    endpoint = next((result.prometheus for result in results if result.prometheus is not None), None)
    if endpoint is None:
        return own
    values: dict[str, Any] = {"PROMETHEUS_URL": endpoint.url, "PROMETHEUS_VERIFY_SSL": endpoint.verify_ssl,
                              "PROMETHEUS_TIMEOUT": endpoint.timeout}
    if endpoint.ca_bundle:
        values["PROMETHEUS_CA_BUNDLE"] = endpoint.ca_bundle
    try:
        return PrometheusSettings(**values)
    except (PerfTestsError, ValueError) as exc:
        logger.error("cannot query the shards' Prometheus at %s from here (%s); set PROMETHEUS_URL for the merge",
                     endpoint.url, exc)
        return own


def _merged_windows(name: str, recorder: Recorder, results: Sequence[ShardResult]) -> list[Window]:
    """The merged entry's windows: its own (first start to last end over the shards), then each stage or
    copy from the earliest shard's start to the latest shard's end."""
    record = recorder.scenarios.get(name)
    if record is None or record.started is None:
        return []
    end = record.finished if record.finished is not None else max(result.finished for result in results)
    windows = [Window(name=name, start=record.started, end=end)]
    per_shard = [result.windows.get(name, []) for result in results if name in result.ran]
    for same in itertools.zip_longest(*per_shard):
        parts = [window for window in same if window is not None]
        windows.append(parts[0].model_copy(update={"start": min(w.start for w in parts),
                                                   "end": max(w.end for w in parts), "queries": []}))
    return windows


def _observe(results: Sequence[ShardResult], recorder: Recorder, out_dir: Path,
             settings: PrometheusSettings | None) -> tuple[dict[str, EntryObservation], str | None]:
    """What Prometheus saw over each merged entry's windows (as a one-process run queries it), and its URL."""
    queries = results[0].queries
    if not queries:
        return {}, None
    if settings is None or not settings.enabled:
        logger.warning("entries %s have prometheus queries, but PROMETHEUS_URL is not set for the merge (nor was "
                       "it for the shards): no query is made", ", ".join(queries))
        return {name: not_configured(name) for name in queries}, None
    register_secret(settings.bearer_token())
    windows = {name: _merged_windows(name, recorder, results) for name in queries}
    client = PrometheusClient(settings)
    try:
        return observe_entries(client, queries, windows, out_dir), client.url
    finally:
        client.close()


def merge_results(
    results: Sequence[ShardResult],
    out_dir: Path,
    baseline: Baseline | None = None,
    shard_dirs: Sequence[Path] | None = None,
    prometheus: PrometheusSettings | None = None,
    events_note: str | None = None,
) -> CompletedRun:
    """Merge every shard's results into ``out_dir`` and judge them (see the module docstring).

    ``shard_dirs`` are the shards' results directories; those not already ``out_dir/shard-<i>`` are
    copied there (events, summary, shard.json). ``prometheus``: this process's settings (see
    ``merged_prometheus_settings``). ``events_note`` says where shards' events are when they are not in
    their folders (``run --pods`` without object storage): in the summary's ``scaleout`` and the report.
    """
    count = check_shards(results)
    results = sorted(results, key=lambda result: result.shard.index)
    first = results[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    recorder = merge_snapshots([(f"shard {result.shard.label}", result.snapshot) for result in results])
    sources = list(shard_dirs) if shard_dirs else [Path(result.results_dir) for result in results]
    llm_notes = {entry.name: _merge_llm(recorder, entry.name, sources, out_dir, first)
                 for entry in first.entries if entry.mode == "LLM_LOAD"}
    started = min(result.started for result in results)
    finished = max(result.finished for result in results)
    interrupted = any(result.interrupted for result in results)
    observations, prometheus_url = _observe(results, recorder, out_dir, merged_prometheus_settings(prometheus,
                                                                                                   results))
    for name, observation in observations.items():
        if name in llm_notes:
            _attach_observation(name, observation, out_dir)
    harness = merge_reports({result.shard.label: result.harness for result in results if result.harness})
    if harness is not None and harness.saturated:
        logger.warning("the load generator was saturated, so its numbers may measure the client, not the target: %s",
                       "; ".join(harness.reasons))
    entries = []
    for entry in first.entries:
        saturation = harness.saturation(entry.name, recorder.scenarios.get(entry.name)) if harness else ""
        note, llm_note = first.plan_notes.get(entry.name), llm_notes.get(entry.name)
        mode = entry.mode or ""
        entries.append(EntryInput(
            name=entry.name, mode=mode,
            planned=Planned(mode=mode, start_offset_s=entry.start_offset_s, run_time_s=entry.run_time_s),
            thresholds=entry.thresholds, allowed_failure_rate=entry.allowed_failure_rate or 0.0,
            setup_operations=setup_operations(mode),
            notes_before=[note] if note else [],
            notes_after=[text for text in (llm_note, f"the load generator was saturated: {saturation}"
                                            if saturation else None) if text],
            prometheus=observations[entry.name].summary() if entry.name in observations else None,
            checks=[check for check in (_on_time_check(entry.name, results),
                                        _harness_check(entry.name, results, recorder.scenarios.get(entry.name))
                                        if entry.strict_harness else None)
                    if check is not None],
        ))
    scenario_file = Path(first.scenario_file) if first.scenario_file else None
    targets = dict(first.targets)
    if prometheus_url is not None:
        targets["prometheus"] = {"url": prometheus_url}
    run = RunInput(first.run_id, first.scenario, scenario_file, targets, started, finished, interrupted)
    scaleout = ScaleOut(shards=count, per_shard=[_shard_part(result) for result in results], note=events_note)
    summary = build_summary(run, recorder, entries, baseline=baseline, harness=harness, scaleout=scaleout)
    _gather_shard_files(results, out_dir, shard_dirs)
    _write_events(results, out_dir)
    write_run_file(out_dir, first.run_id, started, scenario_file, first.scenario,
                   first.entries, first.targets)
    write_summary(summary, out_dir)
    try:
        write_reports(summary, out_dir)
    except Exception:  # a report bug must not cost the merge its summary and verdict
        logger.exception("could not write summary.csv / report.html; rebuild them with "
                         "'python -m perf_tests report %s'", out_dir)
    return CompletedRun(first.run_id, out_dir, summary, interrupted=interrupted)


def _merge_llm(recorder: Recorder, name: str, shard_dirs: Sequence[Path], out_dir: Path,
               first: ShardResult) -> str | None:
    """An LLM_LOAD entry's GuideLLM statistics over every shard's GuideLLM reports, merged from their
    per-request records as GuideLLM computes them (``summarize``), and its universal report from them; a note
    when they could not be."""
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
                "is here to merge; no merged universal report (each shard's own is in its folder)")
    merged = summarize(reports)
    record.external = {metric: {**stats, "source": SOURCE} for metric, stats in merged.metrics().items()}
    note = f"GuideLLM's statistics merged from {len(reports)} reports of {len(shard_dirs)} shards (per request)"
    problem = _write_universal(name, merged, reports, out_dir, first)
    return f"{note}; {problem}" if problem else note


def _write_universal(name: str, merged: MergedLlmResults, reports: Sequence[GuidellmReport], out_dir: Path,
                     first: ShardResult) -> str | None:
    """The merged entry's llm-d universal report (``<entry>/benchmark_report.json``/``.yaml``), built as a
    one-process entry's is, from the merged GuideLLM results and the whole entry as written; a problem, or None."""
    from perf_tests.llm.results.recording import entry_results_dir
    from perf_tests.llm.results.universal_report import (
        build_universal_report,
        validate_universal_report,
        write_universal_report,
    )
    from perf_tests.runners.llm_load import LlmLoadOptions

    data = first.llm_entries.get(name)
    if data is None:
        return "no merged universal report: the shards' shard.json do not carry the entry (older shards)"
    try:
        entry = LlmLoadOptions.model_validate(data)
    except ValueError as exc:
        return f"no merged universal report: the entry does not validate here ({str(exc)[:200]})"
    version = next((report.guidellm_version for report in reports if report.guidellm_version != "unknown"),
                   "unknown")
    # Native GuideLLM arguments are per process (each shard's own report has its shard's); the merged one
    # describes the whole load: the entry as written, one GuideLLM process per report.
    report = build_universal_report(
        entry, merged, run_id=first.run_id, tool_version=version, commands=[],
        target=entry.target_url or "the shards' targets", parallelism=len(reports))
    problems = validate_universal_report(report)
    if problems:
        logger.warning("%s: the merged universal report does not match the llm-d schema v0.2.1: %s", name,
                       "; ".join(problems[:3]))
        return f"merged universal report schema problems: {'; '.join(problems[:3])}"
    write_universal_report(report, entry_results_dir(out_dir, name))
    return None


def _attach_observation(name: str, observation: EntryObservation, out_dir: Path) -> None:
    """The merged Prometheus series in the merged universal report's ``results.observability``."""
    from perf_tests.llm.results.recording import entry_results_dir
    from perf_tests.observability.universal import attach_observation

    try:
        problems = attach_observation(observation, entry_results_dir(out_dir, name), out_dir)
    except (OSError, ValueError) as exc:
        logger.warning("%s: could not add observability to the merged universal report: %s", name, exc)
        return
    if problems:
        logger.warning("%s: the merged universal report with observability does not match the llm-d schema v0.2.1 "
                       "(kept without it): %s", name, "; ".join(problems[:3]))


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
    if section.note:
        lines.insert(0, f"note: {section.note}")
    for shard in section.per_shard:
        late = shard.start_lateness_s or 0
        head = f"  shard {shard.shard}" + (f" (reached the start {late:.1f}s late)" if late > 0.5 else "")
        health = shard.harness
        if health is not None and health.cpu_max is not None:
            lateness = max(health.lateness_p99_ms.values(), default=None)
            head += (f": load generator CPU max {health.cpu_max * 100:.0f}% of a core"
                     + (f", send lateness p99 {lateness:.3g}ms" if lateness is not None else "")
                     + (" (SATURATED)" if health.saturated else ""))
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
