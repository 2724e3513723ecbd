"""One performance test run, from scenario file to verdict.

``PerfSession`` reads the settings and the scenario, makes the results directory and logging, resolves
the KFP target when a KFP mode is in the scenario (starting the embedded simulator when ``API_HOST`` is
unset), runs every entry on the shared clock (with entries' Prometheus queries checked before and run over
their windows after, and the generator's own health sampled meanwhile: ``perf_tests.observability``),
then judges each entry (default checks, thresholds and,
with a baseline, regressions) and writes ``summary.json``, ``summary.csv`` and ``report.html`` (also
when interrupted). ``run.json``, written at the start, lets ``python -m perf_tests report`` rebuild
them if the process dies. With ``PERF_RESULTS_URL`` the results directory is then uploaded to S3
(``perf_tests.storage``), also after an interrupt; a baseline may be an ``s3://`` reference. The
results directory is created and checked for writing before anything runs; a results file that cannot
be written later (a full disk) stops the run with one message, keeping what was written.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perf_tests.baseline import Baseline, BaselineOptions, load_baseline_settings, open_baseline
from perf_tests.config.logging_config import configure_logging
from perf_tests.config.settings import Settings, load_settings
from perf_tests.errors import ConfigurationError
from perf_tests.logger.redaction import redact_data, register_secret
from perf_tests.models.prometheus import query_variables
from perf_tests.models.scenario_file import Scenario, load_scenario
from perf_tests.observability.client import PrometheusClient
from perf_tests.observability.collect import check_queries, not_configured, observe_entries
from perf_tests.observability.harness import HarnessMonitor, HarnessReport
from perf_tests.observability.models import EntryObservation, EntryQueries, Window
from perf_tests.recorder.event_codec import EVENTS_FILE_NAME
from perf_tests.recorder.events import EventHook
from perf_tests.recorder.recorder import EventsFileWriter, Recorder
from perf_tests.reports.console import format_summary_table
from perf_tests.reports.rebuild import RUN_FILE_NAME, write_reports, write_run_file
from perf_tests.reports.summary import SUMMARY_FILE_NAME, EntryInput, RunInput, build_summary, write_summary
from perf_tests.results.status import EntryStatus
from perf_tests.results.summary import Planned, PlannedEntry, SummaryDocument, Target
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import options_models, runner_for
from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.scheduler import RunnerExit, Scheduler
from perf_tests.scheduler.stop import StopToken
from perf_tests.session.interrupts import graceful_interrupts
from perf_tests.session.results_dir import prepare_results_dir
from perf_tests.storage.upload import UploadOutcome
from perf_tests.storage.uploader import ResultsUploader
from perf_tests.targets.deadline import cancel_open_deadlines
from perf_tests.targets.kfp_target import KfpTarget, resolve_kfp_target
from perf_tests.thresholds.verdict import Check, EntryVerdict

if TYPE_CHECKING:
    from perf_tests.scaleout.shard import ShardSpec

__all__ = ["CompletedRun", "PerfSession"]

logger = logging.getLogger("perf_tests")


def planned_entries(scenario: Scenario) -> list[PlannedEntry]:
    """The scenario's entries as planned (``run.json``, ``shard.json``)."""
    return [PlannedEntry(name=entry.name, mode=entry.mode, start_offset_s=entry.start_time,
                         run_time_s=entry.run_time, thresholds=list(entry.thresholds),
                         allowed_failure_rate=entry.allowed_failure_rate, strict_harness=entry.strict_harness)
            for entry in scenario.entries]


def new_run_id() -> str:
    """A sortable, readable id for a run: its UTC start time."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]


@dataclass
class CompletedRun:
    """What a run produced: where its results are and its summary (with one verdict per entry)."""

    run_id: str
    results_dir: Path
    document: SummaryDocument
    interrupted: bool = False
    results_error: str | None = None  # the results could not be written (a full disk): what and how to recover
    summary_written: bool = True
    upload: UploadOutcome | None = None  # PERF_RESULTS_URL: what the upload did
    _summary: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def summary(self) -> dict[str, Any]:
        """``summary.json`` as written (its JSON form)."""
        if self._summary is None:
            self._summary = self.document.as_json()
        return self._summary

    @property
    def verdicts(self) -> list[EntryVerdict]:
        """One verdict per entry, in the scenario's order."""
        return [part.verdict for part in self.document.scenarios if part.verdict is not None]

    @property
    def upload_failed(self) -> bool:
        """The upload failed and ``PERF_UPLOAD_REQUIRED=true`` makes that a failure of the run."""
        return self.upload is not None and self.upload.failed_required

    @property
    def passed(self) -> bool:
        return not self.interrupted and not self.results_error and all(v.passed for v in self.verdicts)

    @property
    def hung(self) -> list[str]:
        """Entries whose work did not stop in time: their threads are still running."""
        return [part.name for part in self.document.scenarios if part.status == EntryStatus.HUNG]

    def verdict(self, name: str) -> EntryVerdict:
        for verdict in self.verdicts:
            if verdict.name == name:
                return verdict
        raise KeyError(name)

    def table(self) -> str:
        return format_summary_table(self.document, self.verdicts)

    def failure_message(self) -> str:
        lines = [f"{len([v for v in self.verdicts if not v.passed])} of {len(self.verdicts)} scenario entries failed"]
        if self.interrupted:
            lines.insert(0, "the run was interrupted" + (
                f"; its results are complete ({SUMMARY_FILE_NAME}, report.html)" if self.summary_written else ""))
        if self.results_error:
            lines.insert(0, self.results_error)
        for verdict in self.verdicts:
            lines.extend(f"  {verdict.name}: {check.message.removeprefix(verdict.name + ': ')}"
                         for check in verdict.failures())
        lines.append(f"results: {self.results_dir}")
        return "\n".join(lines)


class PerfSession:
    """Loads, runs and judges one scenario file.

    ``shard``, ``new_clock`` and ``resolve_kfp_target`` are what a shard of a scaled-out run changes
    (``perf_tests.scaleout.ShardSession``): which part it runs, its fixed start time and the shared target.
    """

    shard: ShardSpec | None = None

    def __init__(
        self,
        scenario: str | Path | None = None,
        settings: Settings | None = None,
        data_dir: Path | None = None,
        results_dir: Path | None = None,
        console_logging: bool = True,
        baseline: str | Path | None = None,
        baseline_options: BaselineOptions | None = None,
        results_dir_source: str | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.scenario_name = str(scenario) if scenario is not None else self.settings.results.scenario_file_name
        self.data_dir = data_dir or Path.cwd() / "test_data"
        self.run_id = new_run_id()
        self.results_dir = (
            results_dir or self.settings.results.results_dir or Path.cwd() / "results" / self.run_id
        ).resolve()
        if results_dir is not None:
            self.results_dir_source = results_dir_source or "the results directory"
        elif self.settings.results.results_dir is not None:
            self.results_dir_source = "PERF_RESULTS_DIR"
        else:
            self.results_dir_source = "the default results directory"
        self.console_logging = console_logging
        self.abort = StopToken()  # the test run's stop: its reason says why (signal, full disk)
        self.storage_error: str | None = None  # the first failed write of a results file, which stops the run
        self._storage_lock = threading.Lock()
        self._summary_written = False
        self._scenario: Scenario | None = None
        self.observations: dict[str, EntryObservation] = {}
        self.windows: dict[str, list[Window]] = {}  # each entry's spans of the shared clock (Prometheus queries)
        self.harness: HarnessReport | None = None
        # A bad baseline fails here, before anything runs (PERF_BASELINE when no path is given).
        baseline_settings = load_baseline_settings()
        baseline_path = baseline if baseline is not None else baseline_settings.baseline
        self.baseline: Baseline | None = None if baseline_path is None else open_baseline(
            baseline_path, baseline_options or baseline_settings.options(), scenario_file=self.scenario_name
        )
        self.uploader = ResultsUploader.from_environment()  # PERF_RESULTS_URL; a bad setting fails here

    @property
    def scenario(self) -> Scenario:
        """The validated scenario (loaded on first use; raises ``ScenarioError``)."""
        if self._scenario is None:
            self._scenario = load_scenario(self.scenario_name, options_models(), self.data_dir)
        return self._scenario

    def run(self) -> CompletedRun:
        """Run every entry on the shared clock and judge it; ``TargetError`` if the target is unusable.

        SIGINT/SIGTERM are handled from here to the end (target check, set-up, load, clean-up, writing the
        results): the first stops the run and writes its results, a second exits at once saying whether
        the results are complete or how to rebuild them.
        """
        scenario = self.scenario
        register_secret(self.settings.auth.bearer_token())
        register_secret(self.settings.auth.cookie())
        register_secret(self.settings.prometheus.bearer_token())
        prepare_results_dir(self.results_dir, self.results_dir_source)
        with graceful_interrupts(self.abort, self._results_state):
            outcome = self._run(scenario)
            if self.uploader is not None:
                interrupted_before = self.abort.is_set()
                # A first Ctrl-C during the upload stops it (after an interrupted run, one more exits).
                outcome.upload = self.upload(outcome, scenario,
                                             stop=lambda: self.abort.is_set() and not interrupted_before)
            return outcome

    def upload(self, outcome: CompletedRun, scenario: Scenario, stop: Callable[[], bool]) -> UploadOutcome | None:
        """``PERF_RESULTS_URL``: the results directory to ``<prefix>/<run_id>/``, and the scenario file's
        ``latest`` pointer when the run finished."""
        if self.uploader is None:
            return None
        return self.uploader.upload(
            self.results_dir, self.run_id, scenario.path.name if scenario.path else self.scenario_name,
            finished=outcome.summary_written and not outcome.interrupted and not outcome.results_error,
            passed=outcome.passed, stop=stop,
        )

    def _run(self, scenario: Scenario) -> CompletedRun:
        configure_logging(self.settings.logging, self.results_dir, console=self.console_logging,
                          on_file_error=self._storage_failed)
        hook = EventHook()
        recorder = Recorder()
        writer = EventsFileWriter(self.results_dir / EVENTS_FILE_NAME, on_error=self._storage_failed)
        hook.add_listener(recorder)
        hook.add_listener(writer)
        runner_classes = [runner_for(entry.mode) for entry in scenario.entries]
        kfp_target: KfpTarget | None = None
        clock = self.new_clock()
        started = clock.wall_now()
        results: list[RunnerExit] = []
        runners: list[Any] = []
        prometheus: PrometheusClient | None = None
        harness = HarnessMonitor(lateness_bound_ms=self.settings.results.harness_lateness_ms, clock=clock)
        try:
            self._write_run_file(scenario, started, {})
        except OSError as exc:
            writer.close()
            raise ConfigurationError(f"cannot write {RUN_FILE_NAME} in {self.results_dir} "
                                     f"({exc.strerror or exc}); free space or give another results directory "
                                     f"({self.results_dir_source})") from None
        try:
            logger.info("run %s: %d scenario entries from %s; results in %s", self.run_id, len(scenario.entries),
                        scenario.path, self.results_dir)
            prometheus = self._check_prometheus(scenario)
            if any(cls.needs_kfp for cls in runner_classes):
                kfp_target = self.resolve_kfp_target()
                logger.info("target: %s", kfp_target.description)
                with contextlib.suppress(OSError):  # a full disk is reported by the files that hit it
                    self._write_run_file(scenario, started, {"kfp": kfp_target.as_json()})
            context = RunContext(
                run_id=self.run_id,
                settings=self.settings,
                events=hook,
                clock=clock,
                results_dir=self.results_dir,
                data_dir=self.data_dir,
                abort=self.abort,
                kfp_target=kfp_target,
                shard=self.shard,
            )
            runners = [cls(entry, context) for cls, entry in zip(runner_classes, scenario.entries, strict=True)]
            scheduler = Scheduler(
                runners,
                context.clock,
                abort=self.abort,
                stop_grace=self.settings.results.stop_grace,
                progress_interval=self.settings.results.progress_interval,
                # Set-up calls under way when the run is interrupted are cut short, not waited for.
                on_abort_in_setup=self._cut_set_up_calls_short,
            )
            harness.start(runners)
            try:
                results = scheduler.run()
            finally:
                harness.stop()
            self.windows = self._windows(scenario, runners, recorder, clock)
            if prometheus is not None:
                self._observe(prometheus, scenario, runners, self.windows)
            for result in results:
                if not result.ok:
                    logger.error("%s: %s", result.name, result.error)
        finally:
            finished = clock.wall_now()
            writer.close()
            targets: dict[str, Any] = {}
            if kfp_target is not None:
                targets["kfp"] = kfp_target.as_json()
                kfp_target.stop()
            if prometheus is not None:
                targets["prometheus"] = {"url": prometheus.url}
                prometheus.close()
            self.harness = harness.report(recorder)
            outcome = self._finish(scenario, recorder, results, targets, started, finished)
        return outcome

    def new_clock(self) -> Clock:
        """The run's shared clock (t0 is set when every entry has prepared)."""
        return Clock()

    def resolve_kfp_target(self) -> KfpTarget:
        """The KFP target: the configured API, or an embedded simulator started for this run."""
        return resolve_kfp_target(self.settings.connection, self.settings.auth)

    # -- observability (issue 13): Prometheus over each entry's windows ---------------------------------
    def entry_queries(self, scenario: Scenario) -> dict[str, EntryQueries]:
        """Entry name -> its step and PromQL with the variables filled, for entries with a block."""
        namespace = self.settings.connection.namespace
        return {entry.name: EntryQueries(step=entry.prometheus.step,
                                         expressions=entry.prometheus.expressions(query_variables(entry, namespace)))
                for entry in scenario.entries if entry.prometheus is not None}

    def _check_prometheus(self, scenario: Scenario) -> PrometheusClient | None:
        """The client when PROMETHEUS_URL is set and an entry has queries, after checking every query."""
        expressions = {name: queries.expressions for name, queries in self.entry_queries(scenario).items()}
        if not expressions:
            return None
        if not self.settings.prometheus.enabled:
            logger.warning("entries %s have prometheus queries, but PROMETHEUS_URL is not set: no query is made",
                           ", ".join(expressions))
            self.observations = {name: not_configured(name) for name in expressions}
            return None
        client = PrometheusClient(self.settings.prometheus)
        began = time.monotonic()
        try:
            check_queries(client, expressions)
        except BaseException:
            client.close()
            raise
        logger.info("prometheus: %s answers; %d queries checked in %.1fs", client.url,
                    sum(len(q) for q in expressions.values()), time.monotonic() - began)
        return client

    @staticmethod
    def _windows(scenario: Scenario, runners: list[Any], recorder: Recorder, clock: Clock) -> dict[str, list[Window]]:
        """Each started entry's windows on the shared clock: its own (to now if it has no end), then its stages
        or copies."""
        windows: dict[str, list[Window]] = {}
        for entry, runner in zip(scenario.entries, runners, strict=True):
            record = recorder.scenarios.get(entry.name)
            if record is None or record.started is None:
                continue
            end = record.finished if record.finished is not None else clock.wall_now()
            windows[entry.name] = [Window(name=entry.name, start=record.started, end=end)] + [
                Window(name=name, kind=kind, start=start, end=finish)
                for name, kind, start, finish in runner.observation_windows()]
        return windows

    def _observe(self, client: PrometheusClient, scenario: Scenario, runners: list[Any],
                 windows: dict[str, list[Window]]) -> None:
        """Range queries over each entry's windows; series in prometheus/<entry>.json."""
        self.observations = observe_entries(client, self.entry_queries(scenario), windows, self.results_dir,
                                            self._storage_failed)
        for entry, runner in zip(scenario.entries, runners, strict=True):
            observation = self.observations.get(entry.name)
            if observation is not None:
                runner.attach_observation(observation)

    @staticmethod
    def _cut_set_up_calls_short() -> None:
        count = cancel_open_deadlines("the run was interrupted while preparing")
        if count:
            logger.info("interrupted while preparing: cut %d call(s) under way short", count)

    def _storage_failed(self, name: str, exc: OSError) -> None:
        """A results file cannot be written (a full disk): stop the run once, with one clear message."""
        with self._storage_lock:
            if self.storage_error is not None:
                return
            self.storage_error = f"cannot write {name} in {self.results_dir} ({exc.strerror or exc})"
        self.abort.set(self.storage_error)
        logger.error("%s: stopping the run; what was written before is kept", self.storage_error)

    def _results_state(self) -> str:
        """For an immediate exit (a second interrupt): tidy up and say what the results directory holds."""
        with contextlib.suppress(OSError):  # a summary cut off mid-write is no use to anyone
            (self.results_dir / f"{SUMMARY_FILE_NAME}.tmp").unlink(missing_ok=True)
        command = f"python -m perf_tests report {self.results_dir}"
        if self._summary_written:
            return (f"The results are complete: {SUMMARY_FILE_NAME} was written; if report.html or summary.csv "
                    f"is missing, rebuild it with '{command}'.")
        return (f"The results are incomplete: {SUMMARY_FILE_NAME} was not written; rebuild it and the reports "
                f"from {EVENTS_FILE_NAME} with '{command}'.")

    def _finish(
        self,
        scenario: Scenario,
        recorder: Recorder,
        results: list[RunnerExit],
        targets: dict[str, Any],
        started: float,
        finished: float,
    ) -> CompletedRun:
        # Decided once: an interrupt that arrives while the results are written does not change them.
        interrupted = self.abort.is_set()
        by_name = {result.name: result for result in results}
        entries = []
        for entry in scenario.entries:
            result = by_name.get(entry.name)
            record = recorder.scenarios.get(entry.name)
            saturation = self.harness.saturation(entry.name, record) if self.harness is not None else ""
            exit_status: EntryStatus | None = None
            if result is not None and result.hung:
                exit_status = EntryStatus.HUNG
            elif result is not None and not result.ok and (record is None or record.status != EntryStatus.ERROR):
                exit_status = EntryStatus.ERROR
            observation = self.observations.get(entry.name)  # observability (issue 13): prom:<query> thresholds
            checks = []
            if saturation and entry.strict_harness:  # a saturated generator measured itself
                checks.append(Check("harness", False, f"{entry.name}: the load generator was saturated "
                                    f"(strictHarness): {saturation}"))
            entries.append(EntryInput(
                name=entry.name, mode=entry.mode,
                planned=Planned(mode=entry.mode, start_offset_s=entry.start_time, run_time_s=entry.run_time),
                thresholds=entry.thresholds, allowed_failure_rate=entry.allowed_failure_rate,
                setup_operations=entry.setup_operations,
                exit_status=exit_status, exit_message=result.error if exit_status is not None and result else None,
                prometheus=observation.summary() if observation is not None else None,
                notes_after=[f"the load generator was saturated: {saturation}"] if saturation else [],
                checks=checks,
            ))
        run = RunInput(self.run_id, redact_data(scenario.raw), scenario.path, _as_targets(targets), started, finished,
                       interrupted)
        summary = build_summary(run, recorder, entries, baseline=self.baseline, harness=self.harness)
        command = f"python -m perf_tests report {self.results_dir}"
        try:
            write_summary(summary, self.results_dir)
        except OSError as exc:
            with contextlib.suppress(OSError):
                (self.results_dir / f"{SUMMARY_FILE_NAME}.tmp").unlink(missing_ok=True)
            message = (f"could not write {SUMMARY_FILE_NAME} in {self.results_dir} ({exc.strerror or exc}); "
                       f"{EVENTS_FILE_NAME} keeps what was recorded: free space and rebuild the summary and "
                       f"reports with '{command}'")
            logger.error("%s", message)
            if self.storage_error:
                message = f"the run was stopped: {self.storage_error}; {message}"
            return CompletedRun(self.run_id, self.results_dir, summary, interrupted=interrupted,
                                results_error=message, summary_written=False)
        self._summary_written = True
        try:
            write_reports(summary, self.results_dir)
        except OSError as exc:
            logger.error("could not write summary.csv / report.html (%s); rebuild them with '%s'",
                         exc.strerror or exc, command)
        except Exception:  # a report bug must not cost the run its summary and verdict
            logger.exception("could not write summary.csv / report.html; rebuild them with '%s'", command)
        results_error = None
        if self.storage_error:
            results_error = (f"the run was stopped: {self.storage_error}; {SUMMARY_FILE_NAME} holds what was "
                             "recorded until then")
        outcome = CompletedRun(self.run_id, self.results_dir, summary, interrupted=interrupted,
                               results_error=results_error)
        logger.info("results written to %s", self.results_dir)
        return outcome

    def _write_run_file(self, scenario: Scenario, started: float, targets: dict[str, Any]) -> None:
        """``run.json``: what ``python -m perf_tests report`` needs if the process dies before the end."""
        write_run_file(self.results_dir, self.run_id, started, scenario.path, redact_data(scenario.raw),
                       planned_entries(scenario), _as_targets(redact_data(targets)))


def _as_targets(targets: Mapping[str, Any]) -> dict[str, Target]:
    """The run's targets (``kfp``: ``KfpTarget.as_json()``, ``prometheus``: its URL) as result models."""
    return {name: Target.model_validate(target) for name, target in targets.items()}
