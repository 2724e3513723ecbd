"""One performance test run, from scenario file to verdict.

``PerfSession`` reads the settings and the scenario, makes the results directory and logging, resolves
the KFP target when a KFP mode is in the scenario (starting the embedded simulator when ``API_HOST`` is
unset), runs every entry on the shared clock, then judges each entry (default checks, thresholds and,
with a baseline, regressions) and writes ``summary.json``, ``summary.csv`` and ``report.html`` (also
when interrupted). ``run.json``, written at the start, lets ``python -m perf_tests report`` rebuild
them if the process dies.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perf_tests.baseline import Baseline, BaselineOptions, load_baseline_settings
from perf_tests.config.logging_config import configure_logging
from perf_tests.config.settings import Settings, load_settings
from perf_tests.logger.redaction import redact, register_secret
from perf_tests.models.scenario_file import Scenario, load_scenario
from perf_tests.recorder.events import EventHook
from perf_tests.recorder.recorder import EVENTS_FILE_NAME, EventsFileWriter, Recorder
from perf_tests.reports.console import format_summary_table
from perf_tests.reports.rebuild import write_reports, write_run_file
from perf_tests.reports.summary import build_summary, write_summary
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import options_models, runner_for
from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.scheduler import RunnerResult, Scheduler
from perf_tests.session.interrupts import graceful_interrupts
from perf_tests.targets.kfp_target import KfpTarget, resolve_kfp_target
from perf_tests.thresholds.evaluate import baseline_overrides, fill_percentiles, judge_with_thresholds
from perf_tests.thresholds.verdict import EntryVerdict

__all__ = ["PerfSession", "RunOutcome"]

logger = logging.getLogger("perf_tests")


def new_run_id() -> str:
    """A sortable, readable id for a run: its UTC start time."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]


@dataclass
class RunOutcome:
    """What a run produced: where its results are, its summary and one verdict per entry."""

    run_id: str
    results_dir: Path
    summary: dict[str, Any]
    verdicts: list[EntryVerdict] = field(default_factory=list)
    interrupted: bool = False

    @property
    def passed(self) -> bool:
        return not self.interrupted and all(verdict.passed for verdict in self.verdicts)

    def verdict(self, name: str) -> EntryVerdict:
        for verdict in self.verdicts:
            if verdict.name == name:
                return verdict
        raise KeyError(name)

    def table(self) -> str:
        return format_summary_table(self.summary, [v.as_json() for v in self.verdicts])

    def failure_message(self) -> str:
        lines = [f"{len([v for v in self.verdicts if not v.passed])} of {len(self.verdicts)} scenario entries failed"]
        if self.interrupted:
            lines.insert(0, "the run was interrupted")
        for verdict in self.verdicts:
            lines.extend(f"  {verdict.name}: {check.message.removeprefix(verdict.name + ': ')}"
                         for check in verdict.failures())
        lines.append(f"results: {self.results_dir}")
        return "\n".join(lines)


class PerfSession:
    """Loads, runs and judges one scenario file."""

    def __init__(
        self,
        scenario: str | Path | None = None,
        settings: Settings | None = None,
        data_dir: Path | None = None,
        results_dir: Path | None = None,
        console_logging: bool = True,
        baseline: str | Path | None = None,
        baseline_options: BaselineOptions | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.scenario_name = str(scenario) if scenario is not None else self.settings.results.scenario_file_name
        self.data_dir = data_dir or Path.cwd() / "test_data"
        self.run_id = new_run_id()
        self.results_dir = (
            results_dir or self.settings.results.results_dir or Path.cwd() / "results" / self.run_id
        ).resolve()
        self.console_logging = console_logging
        self.abort = threading.Event()
        self._scenario: Scenario | None = None
        # A bad baseline fails here, before anything runs (PERF_BASELINE when no path is given).
        baseline_settings = load_baseline_settings()
        baseline_path = baseline if baseline is not None else baseline_settings.baseline
        self.baseline = None if baseline_path is None else Baseline(
            baseline_path, baseline_options or baseline_settings.options()
        )

    @property
    def scenario(self) -> Scenario:
        """The validated scenario (loaded on first use; raises ``ScenarioError``)."""
        if self._scenario is None:
            self._scenario = load_scenario(self.scenario_name, options_models(), self.data_dir)
        return self._scenario

    def run(self) -> RunOutcome:
        """Run every entry on the shared clock and judge it; ``TargetError`` if the target is unusable."""
        scenario = self.scenario
        register_secret(self.settings.auth.bearer_token())
        register_secret(self.settings.auth.cookie())
        configure_logging(self.settings.logging, self.results_dir, console=self.console_logging)
        hook = EventHook()
        recorder = Recorder()
        writer = EventsFileWriter(self.results_dir / EVENTS_FILE_NAME)
        hook.add_listener(recorder)
        hook.add_listener(writer)
        runner_classes = [runner_for(entry.mode) for entry in scenario.entries]
        kfp_target: KfpTarget | None = None
        started = time.time()
        results: list[RunnerResult] = []
        self._write_run_file(scenario, started, {})
        try:
            logger.info("run %s: %d scenario entries from %s; results in %s", self.run_id, len(scenario.entries),
                        scenario.path, self.results_dir)
            if any(getattr(cls, "needs_kfp", True) for cls in runner_classes):
                kfp_target = resolve_kfp_target(self.settings.connection, self.settings.auth)
                logger.info("target: %s", kfp_target.description)
                self._write_run_file(scenario, started, {"kfp": kfp_target.as_json()})
            context = RunContext(
                run_id=self.run_id,
                settings=self.settings,
                events=hook,
                clock=Clock(),
                results_dir=self.results_dir,
                data_dir=self.data_dir,
                abort=self.abort,
                kfp_target=kfp_target,
            )
            runners = [cls(entry, context) for cls, entry in zip(runner_classes, scenario.entries, strict=True)]
            scheduler = Scheduler(
                runners,
                context.clock,
                abort=self.abort,
                progress_interval=self.settings.results.progress_interval,
            )
            with graceful_interrupts(self.abort):
                results = scheduler.run()
            for result in results:
                if not result.ok:
                    logger.error("%s: %s", result.name, result.error)
        finally:
            finished = time.time()
            writer.close()
            targets: dict[str, Any] = {}
            if kfp_target is not None:
                targets["kfp"] = kfp_target.as_json()
                kfp_target.stop()
            outcome = self._finish(scenario, recorder, results, targets, started, finished)
        return outcome

    def _finish(
        self,
        scenario: Scenario,
        recorder: Recorder,
        results: list[RunnerResult],
        targets: dict[str, Any],
        started: float,
        finished: float,
    ) -> RunOutcome:
        planned = {
            entry.name: {"mode": entry.mode, "start_offset_s": entry.start_time, "run_time_s": entry.run_time}
            for entry in scenario.entries
        }
        summary = build_summary(self.run_id, recorder, shown_raw(scenario), scenario.path, planned, targets,
                                started, finished, interrupted=self.abort.is_set())
        by_name = {result.name: result for result in results}
        verdicts = []
        for entry, part in zip(scenario.entries, summary["scenarios"], strict=True):
            result = by_name.get(entry.name)
            if result is not None and result.hung:
                part["status"], part["message"] = "hung", result.error
            elif result is not None and not result.ok and part.get("status") != "error":
                part["status"], part["message"] = "error", result.error
            fill_percentiles(part, recorder.scenarios.get(entry.name), entry.thresholds)
            baseline_part = self.baseline.part(entry.name) if self.baseline is not None else None
            verdict = judge_with_thresholds(part, entry.allowed_failure_rate, entry.thresholds, baseline_part)
            if self.baseline is not None:
                verdict.checks.extend(self.baseline.judge(part, baseline_overrides(entry.thresholds)))
            part["verdict"] = verdict.as_json()
            verdicts.append(verdict)
        summary["passed"] = all(v.passed for v in verdicts) and not self.abort.is_set()
        write_summary(summary, self.results_dir)
        try:
            write_reports(summary, self.results_dir)
        except Exception:  # a report bug must not cost the run its summary and verdict
            logger.exception("could not write summary.csv / report.html; rebuild them with "
                             "'python -m perf_tests report %s'", self.results_dir)
        outcome = RunOutcome(self.run_id, self.results_dir, summary, verdicts, interrupted=self.abort.is_set())
        logger.info("results written to %s", self.results_dir)
        return outcome

    def _write_run_file(self, scenario: Scenario, started: float, targets: dict[str, Any]) -> None:
        """``run.json``: what ``python -m perf_tests report`` needs if the process dies before the end."""
        entries = [
            {"name": entry.name, "mode": entry.mode, "start_offset_s": entry.start_time,
             "run_time_s": entry.run_time, "thresholds": list(entry.thresholds),
             "allowed_failure_rate": entry.allowed_failure_rate}
            for entry in scenario.entries
        ]
        write_run_file(self.results_dir, self.run_id, started, scenario.path, shown_raw(scenario), entries, targets)


def shown_raw(scenario: Scenario) -> list[Any]:
    """The scenario file's entries as written, secrets masked (the models register them when validated)."""
    shown: list[Any] = json.loads(redact(json.dumps(scenario.raw)))
    return shown


def safe_file_name(name: str) -> str:
    """A file-system-safe version of an entry name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "entry"
