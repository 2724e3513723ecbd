"""The ``local`` executor: GuideLLM processes on this machine, children of the test run.

Each process is ``python -m perf_tests.llm.process.launcher run ...`` (GuideLLM's CLI, held at its start; see
``perf_tests.llm.process.startup``), in its own process group with its output in ``<label>.log``. GuideLLM needs
10-20 s to start, so each is launched ``startupLead`` seconds before its start and then told its load
window; it holds until the window opens, so its first request is due on time. A process that must
start within ``startupLead`` of t0 is launched in ``prepare``, before t0, and ``prepare`` waits until it
is ready: the scheduler starts the clock only when every runner has prepared. The others are launched
from ``run``, which begins ``lead_time`` before the entry's start. GuideLLM's own ``max_duration`` and
the launcher's deadline end each load at its end; GuideLLM then writes its JSON report and exits. The
runner is stopped ``end_extension`` seconds after the entry's end (``finish_grace`` plus 2% of its length
for a long run's report); what still runs then is stopped without a report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from perf_tests.llm.executors.executor import Executor, LaunchSpec, ProcessExit
from perf_tests.llm.executors.registry import EXECUTORS
from perf_tests.llm.process.children import ChildProcess, launcher_argv, log_tail
from perf_tests.llm.process.diagnostics import failure_reason, progress_line
from perf_tests.llm.process.startup import REQUESTS_ENV
from perf_tests.llm.version import check_guidellm
from perf_tests.scheduler.clock import Clock

__all__ = ["FINISH_GRACE", "READY_TIMEOUT", "LocalExecutor"]

logger = logging.getLogger(__name__)

FINISH_GRACE = 30.0
"""Seconds after the entry's end for GuideLLM to write its report and exit; plus 2% of the entry's length
for the report of a long run (the ``end_extension``)."""
READY_TIMEOUT = 240.0
"""Seconds ``prepare`` waits for early-launched processes to be ready (several start slowly together)."""
_POLL = 0.25


@EXECUTORS.include
class LocalExecutor(Executor):
    """Runs each ``LaunchSpec`` as a local child process (see the module docstring)."""

    name = "local"

    def __init__(self, clock: Clock, *, entry_start_offset: float, entry_end_offset: float, startup_lead: float,
                 abort: threading.Event | None = None, stopping: threading.Event | None = None,
                 finish_grace: float = FINISH_GRACE, ready_timeout: float = READY_TIMEOUT) -> None:
        super().__init__(clock, entry_start_offset=entry_start_offset, entry_end_offset=entry_end_offset,
                         startup_lead=startup_lead, abort=abort, stopping=stopping)
        self.finish_grace = finish_grace
        self.ready_timeout = ready_timeout
        self.guidellm_version = ""
        self._pending: list[LaunchSpec] = []
        self._running: dict[str, ChildProcess] = {}
        self._windowed: set[str] = set()
        self._outcomes: dict[str, ProcessExit] = {}
        self._order: list[str] = []

    @property
    def lead_time(self) -> float:
        return min(self.startup_lead, self.entry_start_offset)

    @property
    def end_extension(self) -> float:
        return self.finish_grace + 0.02 * max(0.0, self.entry_end_offset - self.entry_start_offset)

    # -- lifecycle ----------------------------------------------------------------------------------
    def prepare(self, specs: Sequence[LaunchSpec]) -> None:
        if any(spec.command.launch is None for spec in specs):  # GuideLLM's launcher; others check their own
            self.guidellm_version = check_guidellm()
        self._pending = sorted(specs, key=self.launch_offset)
        self._order = [spec.name for spec in specs]
        self._outcomes = {spec.name: ProcessExit(spec) for spec in specs}
        run_begins = self.entry_start_offset - self.lead_time
        early = [spec for spec in self._pending if spec.start_offset - self.startup_lead < run_begins]
        for spec in early:
            self._pending.remove(spec)
            self._spawn(spec)
        self._wait_ready(list(self._running.values()))

    def run(self) -> list[ProcessExit]:
        for name in list(self._running):  # launched before t0: t0 is known now
            self._send_window(name)
        while True:
            if self.stopping.is_set():
                self._wind_down()
                break
            while self._pending and self.clock.elapsed() >= self.launch_offset(self._pending[0]):
                spec = self._pending.pop(0)
                self._spawn(spec)
                self._send_window(spec.name)
            self._reap()
            if not self._pending and not self._running:
                break
            wake = _POLL
            if self._pending:
                next_launch = self.clock.monotonic_at(self.launch_offset(self._pending[0]))
                wake = min(wake, max(0.0, next_launch - time.monotonic()))
            self.stopping.wait(wake)
        return [self._outcomes[name] for name in self._order]

    def cleanup(self) -> None:
        for name, child in list(self._running.items()):
            code = child.stop(grace=5.0)
            outcome = self._outcomes[name]
            outcome.stopped = True
            outcome.exit_code = code
            outcome.ended_at = time.time()
            outcome.error = outcome.error or "stopped during cleanup before it finished"
        self._running.clear()

    def progress(self) -> str:
        parts = []
        for name, child in self._running.items():
            line = progress_line(log_tail(child.log_path, 4096))
            state = line or ("ready, holding until its start" if child.ready_at is not None else "starting")
            parts.append(f"{name}: {state}")
        if self._pending:
            parts.append(f"{len(self._pending)} more to launch")
        return "; ".join(parts)

    def ready_times(self) -> dict[str, float]:
        """When each launched process was ready to start (epoch seconds), by name."""
        return {name: child.ready_at for name, child in self._running.items() if child.ready_at is not None}

    # -- helpers ------------------------------------------------------------------------------------
    def _spawn(self, spec: LaunchSpec) -> None:
        env = {**spec.command.env, **spec.command.secret_env, REQUESTS_ENV: str(spec.requests_path)}
        argv = launcher_argv(spec.command.args) if spec.command.launch is None else [*spec.command.launch,
                                                                                    *spec.command.args]
        child = ChildProcess(spec.name, argv, spec.log_path, env, control=True)
        spec.report_path.unlink(missing_ok=True)  # never mistake an old report for this run's
        spec.requests_path.unlink(missing_ok=True)
        outcome = self._outcomes[spec.name]
        try:
            child.start()
        except OSError as exc:
            outcome.error = f"could not start {spec.command.program[0]}: {exc}"
            return
        outcome.launched_at = time.time()
        self._running[spec.name] = child
        logger.info("launched %s (pid %s) for its load %.1fs to %.1fs after t0", spec.name, child.pid,
                    spec.start_offset, spec.end_offset)

    def _wait_ready(self, children: list[ChildProcess]) -> None:
        """Wait until every child is ready (or gone), the timeout passes or we are stopped."""
        started = time.monotonic()
        deadline = started + self.ready_timeout
        for child in children:
            while not child.ready.wait(_POLL):
                if self.stopping.is_set() or child.poll() is not None:
                    return
                if time.monotonic() >= deadline:
                    logger.warning("%s is not ready after %.0fs; the run starts without waiting for it",
                                   child.name, self.ready_timeout)
                    return
        if children:
            logger.info("%d GuideLLM process(es) ready after %.1fs", len(children), time.monotonic() - started)

    def _send_window(self, name: str) -> None:
        child = self._running.get(name)
        if child is None or name in self._windowed:
            return
        spec = self._outcomes[name].spec
        self._windowed.add(name)
        child.send_window(self.clock.wall_at(spec.start_offset), self.clock.wall_at(spec.end_offset))

    def _reap(self) -> None:
        for name, child in list(self._running.items()):
            code = child.poll()
            if code is None:
                continue
            child.stop(grace=0.0)  # the leader exited: clear what is left of its group
            del self._running[name]
            self._record_exit(self._outcomes[name], code)

    def _record_exit(self, outcome: ProcessExit, code: int | None) -> None:
        outcome.exit_code = code
        outcome.ended_at = time.time()
        if code != 0 and outcome.error is None:
            reason = failure_reason(log_tail(outcome.spec.log_path))
            tool = "GuideLLM" if outcome.spec.command.launch is None else outcome.spec.command.program[0]
            outcome.error = f"{tool} exited with code {code}: {reason or 'no error in its log'}"
        elif code == 0 and not outcome.spec.report_path.is_file():
            tool = "GuideLLM" if outcome.spec.command.launch is None else outcome.spec.command.program[0]
            outcome.error = f"{tool} exited without writing its report {outcome.spec.report_path}"

    def _wind_down(self) -> None:
        early = self.early_stop
        for spec in self._pending:
            self._outcomes[spec.name].error = "not launched: the entry was stopped before its launch time"
        self._pending.clear()
        if not early:  # normally stopped at end + end_extension already: this waits only on an early call
            deadline = self.clock.monotonic_at(self.entry_end_offset + self.end_extension)
            while self._running and time.monotonic() < deadline:
                self._reap()
                if self._running:
                    next(iter(self._running.values())).wait(_POLL)
            self._reap()
        for name, child in list(self._running.items()):
            code = child.stop(grace=5.0)
            del self._running[name]
            outcome = self._outcomes[name]
            outcome.stopped = True
            outcome.exit_code = code
            outcome.ended_at = time.time()
            if early:
                outcome.error = "stopped before the entry's end (the run was aborted); GuideLLM writes no report then"
            else:
                reason = failure_reason(log_tail(outcome.spec.log_path))
                outcome.error = (f"still running {self.end_extension:g}s after the entry's end; stopped (no report)"
                                 + (f"; its log says: {reason}" if reason else ""))
