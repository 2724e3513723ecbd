"""Where an LLM_LOAD entry's GuideLLM processes run: the executor interface.

The runner plans the processes (``perf_tests.llm.plan``), builds each command (``perf_tests.llm.command``)
and hands them to an executor as ``LaunchSpec``s: command, start and end on the run's shared clock, and
where the JSON report and the log must end up locally. The executor only runs them and reports how each
ended (``ProcessExit``); the runner then parses the reports (``perf_tests.llm.results.parsing``) and writes the
universal report, whatever ran them.

Lifecycle, called by ``LlmLoadRunner`` in order from the runner's thread (``stop`` from any thread):

0. ``bind(entry, run_id, emit)``: when the runner is made: the entry, the test run's id and where to
   report the executor's own operations (e.g. creating a PipelineRun).
1. ``prepare(specs)``: before t0 (the scheduler starts the clock when every runner has prepared, so
   the offsets are not yet times). Check the tooling; launch what would otherwise start late and wait
   until it is ready; return at once when stopped.
2. ``run()``: called ``lead_time`` seconds before the entry's start. Start the processes on time (each
   at its ``start_offset``; launching the rest ahead as needed), wait until every process ended and
   return the outcomes.
   The scheduler stops the runner ``end_extension`` seconds after the entry's end (time for the
   processes to write their reports); what still runs then is ended, and so is everything on an
   earlier stop (abort).
3. ``stop()``: ask ``prepare``/``run`` to return; thread-safe, returns at once.
4. ``cleanup()``: always, last: nothing the executor started is left running.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from perf_tests.llm.command import GuidellmCommand
from perf_tests.llm.executors.options import ExecutorOptions
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.plan import Launch
from perf_tests.recorder.events import EmitOperation
from perf_tests.scheduler.clock import Clock

__all__ = ["EmitOperation", "Executor", "LaunchSpec", "ProcessExit"]




@dataclass(frozen=True)
class LaunchSpec:
    """One GuideLLM process to run: its plan, command, window on the shared clock and local files."""

    launch: Launch
    command: GuidellmCommand
    start_offset: float  # seconds after t0 at which its load starts
    end_offset: float  # seconds after t0 at which its load ends
    report_path: Path  # where its JSON report is (locally) once it finished
    log_path: Path

    @property
    def name(self) -> str:
        return self.launch.label

    @property
    def requests_path(self) -> Path:
        """Where the launcher appends each request as it finishes (``perf_tests.llm.results.live``)."""
        return self.report_path.with_name(f"{self.report_path.stem}.requests.jsonl")


@dataclass
class ProcessExit:
    """How one process ended."""

    spec: LaunchSpec
    exit_code: int | None = None
    error: str | None = None  # why it failed, in words a user can act on
    launched_at: float | None = None  # wall clock
    ended_at: float | None = None  # wall clock
    stopped: bool = False  # ended by us (stop/abort), not by itself
    load_window: tuple[float, float] | None = None  # wall clock: when the load itself ran (Tekton's results)

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_code == 0 and self.spec.report_path.is_file()


class Executor(ABC):
    """Runs the GuideLLM processes of one entry somewhere (see the module docstring for the lifecycle)."""

    name: ClassVar[str]
    options_model: ClassVar[type[ExecutorOptions]] = ExecutorOptions
    """The executor's own entry fields and checks (none by default; see ``options.py``)."""

    def __init__(self, clock: Clock, *, entry_start_offset: float, entry_end_offset: float, startup_lead: float,
                 abort: threading.Event | None = None, stopping: threading.Event | None = None) -> None:
        self.clock = clock
        self.entry_start_offset = entry_start_offset
        self.entry_end_offset = entry_end_offset
        self.startup_lead = startup_lead
        self.abort = abort or threading.Event()
        self.stopping = stopping or threading.Event()  # the runner's own, so its stop reaches us at once

    def bind(self, entry: LlmLoadFields, run_id: str, emit: EmitOperation | None = None) -> None:
        """The entry it runs, the test run's id and where to report its own operations (default: kept)."""
        self.entry: LlmLoadFields | None = entry
        self.run_id = run_id

    @property
    def end_extension(self) -> float:
        """Seconds past the entry's end before the runner is stopped (time to finish reports)."""
        return 0.0

    @property
    def lead_time(self) -> float:
        """Seconds before the entry's start at which ``run`` is called (time to launch processes)."""
        return 0.0

    @abstractmethod
    def prepare(self, specs: Sequence[LaunchSpec]) -> None:
        """Check the tooling and launch what must start before the entry's start."""

    @abstractmethod
    def run(self) -> list[ProcessExit]:
        """Launch the rest on time, wait for every process, return how each ended."""

    def stop(self) -> None:
        """Ask ``prepare``/``run`` to wind down; thread-safe, returns at once."""
        self.stopping.set()

    @abstractmethod
    def cleanup(self) -> None:
        """End anything still running; always called last."""

    def progress(self) -> str:
        """One short line on what the processes are doing."""
        return ""

    def launch_offset(self, spec: LaunchSpec) -> float:
        """When (seconds after t0) a process is launched: its start minus the startup lead, not before t0."""
        return max(0.0, spec.start_offset - self.startup_lead)

    @property
    def early_stop(self) -> bool:
        """True when stopped before the entry's end (abort): processes are ended at once."""
        return self.abort.is_set() or self.clock.elapsed() < self.entry_end_offset - 0.5
