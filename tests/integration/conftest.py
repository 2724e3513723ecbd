"""Fixtures for driving runners against the embedded KFP simulator with the real kfp client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_helpers import BASIC_AUTH_HASH, need_binary

from perf_tests.config.settings import AuthSettings, ConnectionSettings, ResultsSettings, Settings
from perf_tests.models.scenario_file import build_scenario
from perf_tests.observability.local_prometheus import LocalPrometheus
from perf_tests.recorder import EVENTS_FILE_NAME, EventHook, EventsFileWriter, Recorder
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import options_models, runner_for
from perf_tests.scheduler import Clock, RunnerExit, Scheduler
from perf_tests.targets.kfp_target import EMBEDDED_KIND, KfpTarget

DATA_DIR = Path(__file__).resolve().parents[2] / "test_data"


@dataclass
class ScenarioRun:
    """What a scenario run left behind, for assertions."""

    results: list[RunnerExit]
    recorder: Recorder
    events_path: Path
    runners: list[Any]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.events_path.read_text().splitlines()]

    def ops(self, scenario: str, operation: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["type"] == "op" and e["scenario"] == scenario and e["op"] == operation]


@pytest.fixture
def run_scenario(tmp_path: Path, kfp_server: Any) -> Iterator[Callable[..., ScenarioRun]]:
    """Run a list of scenario entries against the embedded simulator, as PerfSession would."""

    def run(
        entries: list[dict[str, Any]],
        cleanup: str = "all",
        stop_grace: float = 15.0,
        server: Any = None,
        request_timeout: float = 30.0,
    ) -> ScenarioRun:
        scenario = build_scenario(entries, options_models(), DATA_DIR)
        connection = ConnectionSettings(REQUEST_TIMEOUT=request_timeout)
        settings = Settings(connection=connection, results=ResultsSettings(PERF_CLEANUP=cleanup))
        hook = EventHook()
        recorder = Recorder()
        writer = EventsFileWriter(tmp_path / EVENTS_FILE_NAME)
        hook.add_listener(recorder)
        hook.add_listener(writer)
        target = KfpTarget(url=(server or kfp_server).url, kind=EMBEDDED_KIND, connection=connection,
                           auth=AuthSettings())
        context = RunContext(run_id="test", settings=settings, events=hook, clock=Clock(), results_dir=tmp_path,
                             data_dir=DATA_DIR, kfp_target=target)
        runners = [runner_for(entry.mode)(entry, context) for entry in scenario.entries]
        try:
            results = Scheduler(runners, context.clock, context.abort, stop_grace=stop_grace,
                                progress_interval=None).run()
        finally:
            writer.close()
        return ScenarioRun(results, recorder, tmp_path / EVENTS_FILE_NAME, runners)

    return run


# A real Prometheus (Debian's binary) on loopback, scraping at 1 s: shared by tests/integration/prometheus and
# tests/integration/vllm (one vLLM server per session). Helpers in prometheus_helpers.py.
@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    need_binary()
    with LocalPrometheus(tmp_path_factory.mktemp("prometheus"), scrape_interval=1.0) as server:
        yield server


@pytest.fixture(scope="session")
def prometheus_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    """A Prometheus behind basic auth (``--web.config.file``): a bearer token gets a real 401."""
    need_binary()
    with LocalPrometheus(tmp_path_factory.mktemp("prometheus-auth"), basic_auth_hash=BASIC_AUTH_HASH) as server:
        yield server
