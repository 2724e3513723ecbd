"""Running LLM_LOAD scenarios in tests: the real loader, ``RunContext`` and ``Scheduler``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perf_tests.config.settings import Settings
from perf_tests.models.scenario_file import Scenario, build_scenario, load_scenario
from perf_tests.recorder import EVENTS_FILE_NAME, EventHook, EventsFileWriter, Recorder
from perf_tests.recorder.events import Event
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import options_models, runner_for
from perf_tests.scheduler import Clock, RunnerExit, Scheduler

DATA_DIR = Path(__file__).resolve().parents[3] / "test_data"


@dataclass
class LlmRun:
    """What a scenario run left behind."""

    scenario: Scenario
    context: RunContext
    results: dict[str, RunnerExit]
    recorder: Recorder
    results_dir: Path


def run_scenario(scenario: Scenario, results_dir: Path, abort: threading.Event | None = None,
                 stop_grace: float = 30.0, listener: Callable[[Event], None] | None = None) -> LlmRun:
    """Run every entry of ``scenario`` on a fresh clock, recording into a fresh recorder and events file."""
    hook = EventHook()
    recorder = Recorder()
    writer = EventsFileWriter(results_dir / EVENTS_FILE_NAME)
    hook.add_listener(recorder)
    hook.add_listener(writer)
    if listener is not None:
        hook.add_listener(listener)
    stop = abort or threading.Event()
    context = RunContext(run_id="llm-test-run", settings=Settings(), events=hook, clock=Clock(),
                         results_dir=results_dir, data_dir=DATA_DIR, abort=stop)
    runners = [runner_for(entry.mode)(entry, context) for entry in scenario.entries]
    try:
        results = Scheduler(runners, context.clock, stop, stop_grace=stop_grace, progress_interval=None).run()
    finally:
        writer.close()
    return LlmRun(scenario, context, {r.name: r for r in results}, recorder, results_dir)


def run_entries(entries: Sequence[dict[str, Any]], results_dir: Path, abort: threading.Event | None = None,
                listener: Callable[[Event], None] | None = None) -> LlmRun:
    """Validate ``entries`` like a scenario file and run them."""
    return run_scenario(build_scenario(list(entries), options_models(), DATA_DIR), results_dir, abort,
                        listener=listener)


def run_scenario_file(name: str, results_dir: Path) -> LlmRun:
    return run_scenario(load_scenario(name, options_models(), data_dir=DATA_DIR), results_dir)
