"""RANDOM_GETS against the embedded KFP simulator, run by the scheduler like a real test run.

Acceptance: 200 req/s for 10 s gives 2,000 ± 1% requests with per-endpoint percentiles, lateness and no
drops; with 500 ms of added latency and maxConcurrency 10 the runner reports dropped arrivals instead of
a silently lower rate; every attempt is in events.jsonl exactly once.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.config.settings import AuthSettings, ConnectionSettings, Settings
from perf_tests.recorder import EVENTS_FILE_NAME, EventHook, EventsFileWriter, Recorder
from perf_tests.runners.context import RunContext
from perf_tests.runners.random_gets import RandomGetsOptions, RandomGetsRunner
from perf_tests.scheduler import Clock, RunnerExit, Scheduler
from perf_tests.server import EmbeddedKfpServer
from perf_tests.targets.kfp_target import EMBEDDED_KIND, KfpTarget

PIPELINE_FILE = Path(__file__).resolve().parents[2] / "test_data" / "pipeline_files" / "add_numbers.yaml"
RUNS = 25


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read()))


def seed(server: EmbeddedKfpServer) -> dict[str, Any]:
    """A uniquely named pipeline and ``RUNS`` runs of it, so every get_* endpoint has ids to use."""
    api = server.url + "/apis/v2beta1"
    tag = uuid.uuid4().hex[:8]
    pipeline = _post(api + "/pipelines/create", {
        "pipeline": {"display_name": f"random-gets-{tag}"},
        "pipeline_version": {"display_name": "v1", "pipeline_spec": yaml.safe_load(PIPELINE_FILE.read_text())},
    })
    runs = [
        _post(api + "/runs", {
            "display_name": f"random-gets-{tag}-{index}",
            "pipeline_version_reference": {"pipeline_id": pipeline["pipeline_id"]},
        })
        for index in range(RUNS)
    ]
    return {"pipeline": pipeline, "runs": runs}


@pytest.fixture(scope="module")
def seeded_server(kfp_server: EmbeddedKfpServer) -> EmbeddedKfpServer:
    seed(kfp_server)
    return kfp_server


@pytest.fixture
def slow_server(fresh_kfp_server: EmbeddedKfpServer) -> EmbeddedKfpServer:
    seed(fresh_kfp_server)
    fresh_kfp_server.configure(latency_ms=500)
    return fresh_kfp_server


@dataclass
class Outcome:
    results: list[RunnerExit]
    runner: RandomGetsRunner
    recorder: Recorder
    events: list[dict[str, Any]]


def run_entry(server: EmbeddedKfpServer, tmp_path: Path, **fields: Any) -> Outcome:
    """Validate an entry, run it through the Scheduler on a fresh run context, return what it left."""
    entry = RandomGetsOptions.model_validate({"mode": "RANDOM_GETS", "name": "gets", "startTime": 0, **fields})
    hook = EventHook()
    recorder = Recorder()
    writer = EventsFileWriter(tmp_path / EVENTS_FILE_NAME)
    hook.add_listener(recorder)
    hook.add_listener(writer)
    settings = Settings(connection=ConnectionSettings(), auth=AuthSettings())
    target = KfpTarget(url=server.url, kind=EMBEDDED_KIND, connection=ConnectionSettings(), auth=AuthSettings())
    clock = Clock()
    context = RunContext(run_id="it", settings=settings, events=hook, clock=clock, results_dir=tmp_path,
                         data_dir=tmp_path, kfp_target=target)
    runner = RandomGetsRunner(entry, context)
    try:
        results = Scheduler([runner], clock, threading.Event(), progress_interval=None).run()
    finally:
        writer.close()
    lines = (tmp_path / EVENTS_FILE_NAME).read_text().splitlines()
    return Outcome(results, runner, recorder, [json.loads(line) for line in lines])


def attempts_in_events(events: list[dict[str, Any]]) -> int:
    """Own operation events plus the ok and failed counts of the per-second aggregates."""
    own = sum(1 for e in events if e["type"] == "op")
    aggregated = sum(e["ok"] + sum(e["errors"].values()) for e in events if e["type"] == "agg")
    return own + aggregated


@pytest.mark.slow
def test_200_per_second_for_10_seconds(seeded_server: EmbeddedKfpServer, tmp_path: Path) -> None:
    outcome = run_entry(seeded_server, tmp_path, runTime="10s", rate=200)
    assert outcome.results[0].ok, outcome.results[0].error
    result = outcome.runner.result
    assert result is not None
    assert result.planned == 2000
    assert result.sent + result.cut_off == 2000  # the scheduler's stop may come a little early
    assert result.sent >= 1980
    assert result.dropped == 0
    assert result.failed == 0

    scenario = outcome.recorder.scenarios["gets"]
    assert scenario.status == "passed"
    operations = scenario.operations
    # The default UI-like mix: every endpoint with a weight was called, get_* with real ids.
    assert {"list_runs", "get_run", "list_experiments", "list_pipelines", "get_pipeline",
            "list_pipeline_versions"} <= set(operations)
    assert sum(stats.count for stats in operations.values()) == result.sent
    for name, stats in operations.items():
        summary = stats.summary()
        assert summary["failed"] == 0, name
        assert summary["p50_ms"] is not None, name
        assert summary["p99_ms"] >= summary["p50_ms"], name
        assert summary["lateness"]["p99_ms"] < 1000, name
        assert summary["latency"]["p50_ms"] >= summary["p50_ms"] * 0.999, name
        assert summary.get("dropped", 0) == 0, name
    assert operations["list_runs"].count > operations["get_run"].count > operations["list_pipelines"].count
    assert operations["list_runs"].latest["total_size"] >= RUNS

    assert attempts_in_events(outcome.events) == result.sent
    notes = [e["message"] for e in outcome.events if e["type"] == "scenario" and e["phase"] == "note"]
    load_notes = [note for note in notes if "arrivals planned" in note]
    assert load_notes == [result.describe()]
    assert "could not keep up" not in load_notes[0]


@pytest.mark.slow
def test_a_slow_server_reports_dropped_arrivals(slow_server: EmbeddedKfpServer, tmp_path: Path) -> None:
    # 100/s asked; 10 in flight at 500 ms each can only do about 20/s: the rest must show as dropped.
    outcome = run_entry(slow_server, tmp_path, runTime="3s", rate=100, maxConcurrency=10,
                        endpoints={"list_runs": 1, "get_run": 1})  # healthz is never slowed down
    assert outcome.results[0].ok, outcome.results[0].error
    result = outcome.runner.result
    assert result is not None
    assert 290 <= result.scheduled <= 303  # the schedule kept its rate ...
    assert result.sent + result.dropped == result.scheduled
    assert result.sent <= 80  # ... the server could not
    assert result.dropped >= 200
    assert result.max_in_flight == 10

    scenario = outcome.recorder.scenarios["gets"]
    dropped = sum(stats.counters.get("dropped", 0) for stats in scenario.operations.values())
    assert dropped == result.dropped
    assert any(f"could not keep up: {result.dropped} dropped" in note and f"{result.planned} arrivals planned" in note
               for note in scenario.notes)
    assert scenario.attrs["load"]["dropped"] == result.dropped
    for stats in scenario.operations.values():
        if stats.ok:
            assert stats.summary()["p50_ms"] >= 500

    assert attempts_in_events(outcome.events) == result.sent
    dropped_in_file = sum(e.get("counters", {}).get("dropped", 0) for e in outcome.events if e["type"] == "agg")
    assert dropped_in_file == result.dropped


# The simulator's route for each endpoint (its /_admin/stats counts requests per route and status).
ROUTES = {
    "list_runs": "GET /apis/v2beta1/runs",
    "get_run": "GET /apis/v2beta1/runs/{run_id}",
    "list_pipelines": "GET /apis/v2beta1/pipelines",
    "get_pipeline": "GET /apis/v2beta1/pipelines/{pipeline_id}",
    "list_pipeline_versions": "GET /apis/v2beta1/pipelines/{pipeline_id}/versions",
}


def attempts_by_operation(events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per operation, attempts in events.jsonl by outcome: "ok" or the error type."""
    counts: dict[str, dict[str, int]] = {}
    for event in events:
        if event["type"] == "op":
            outcome = "ok" if event["ok"] else event["error_type"]
            per = counts.setdefault(event["op"], {})
            per[outcome] = per.get(outcome, 0) + 1
        elif event["type"] == "agg":
            per = counts.setdefault(event["op"], {})
            per["ok"] = per.get("ok", 0) + event["ok"]
            for error_type, count in event["errors"].items():
                per[error_type] = per.get(error_type, 0) + count
    return counts


def test_every_request_the_server_received_is_a_recorded_attempt(fresh_kfp_server: EmbeddedKfpServer,
                                                                 tmp_path: Path) -> None:
    # The simulator drops 20% of the connections without an answer (and answers 10% with a 500, with
    # some jitter: a mixed fault run). aiohttp would resend each dropped
    # GET once on a new connection and record the pair as one (slower) attempt; the server's own
    # counts show whether every request it received is an attempt in events.jsonl.
    seed(fresh_kfp_server)
    fresh_kfp_server.configure(drop_probability=0.2, error_probability=0.1, latency_jitter_ms=5, seed=11)
    fresh_kfp_server.reset(data=False, stats=True)
    outcome = run_entry(fresh_kfp_server, tmp_path, runTime="3s", rate=100, maxConcurrency=20,
                        endpoints=dict.fromkeys(ROUTES, 1))
    result = outcome.runner.result
    assert result is not None
    assert result.sent >= 250

    stats = fresh_kfp_server.stats()
    recorded = attempts_by_operation(outcome.events)
    assert set(recorded) <= set(ROUTES)
    for operation, route in ROUTES.items():
        received = stats["by_route"].get(route, {})
        attempts = recorded.get(operation, {})
        assert sum(received.values()) == sum(attempts.values()), (operation, received, attempts)
        assert received.get("dropped", 0) == attempts.get("connection", 0), (operation, received, attempts)
        assert received.get("200", 0) == attempts.get("ok", 0), (operation, received, attempts)
        assert received.get("500", 0) == attempts.get("http_500", 0), (operation, received, attempts)
    get_routes = {route for route in stats["by_route"] if route.startswith("GET /apis/")}
    assert get_routes <= set(ROUTES.values())  # no other read reached the server
    # (The entry's own set-up calls, which seed the simulator before the start, are POSTs and may be
    # dropped too; they are retried by design and are not part of the load.)
    dropped = sum(stats["by_route"].get(route, {}).get("dropped", 0) for route in ROUTES.values())
    errors = sum(stats["by_route"].get(route, {}).get("500", 0) for route in ROUTES.values())
    assert dropped >= 0.1 * result.sent
    assert errors > 0
    assert result.failed == dropped + errors


def test_overload_accounting_adds_up_exactly(seeded_server: EmbeddedKfpServer, tmp_path: Path) -> None:
    # 20,000/s is far more than this machine sends: every planned arrival is still sent, dropped or cut
    # off when the scheduler stops the entry, and the events and the entry's note say the same.
    outcome = run_entry(seeded_server, tmp_path, runTime="1.5s", rate=20_000, maxConcurrency=50,
                        endpoints={"list_runs": 1, "get_run": 1, "healthz": 1})
    assert outcome.results[0].ok, outcome.results[0].error
    result = outcome.runner.result
    assert result is not None
    assert result.planned == 30_000
    assert result.sent + result.dropped + result.cut_off == 30_000
    assert result.dropped > 0
    assert attempts_in_events(outcome.events) == result.sent
    dropped_in_file = sum(e.get("counters", {}).get("dropped", 0) for e in outcome.events if e["type"] == "agg")
    assert dropped_in_file == result.dropped
    load = outcome.recorder.scenarios["gets"].attrs["load"]
    assert (load["planned"], load["sent"], load["dropped"], load["cut_off"]) == (
        30_000, result.sent, result.dropped, result.cut_off)
    assert any("could not keep up" in note for note in outcome.recorder.scenarios["gets"].notes)


def test_a_fresh_simulator_is_seeded_so_get_run_has_data(fresh_kfp_server: EmbeddedKfpServer,
                                                         tmp_path: Path) -> None:
    outcome = run_entry(fresh_kfp_server, tmp_path, runTime="2s", rate=50,
                        endpoints={"list_runs": 1, "get_run": 3, "get_pipeline": 1},
                        thresholds=["p95(get_run) < 5s", "count(get_run) >= 30"])
    assert outcome.results[0].ok, outcome.results[0].error
    scenario = outcome.recorder.scenarios["gets"]
    assert scenario.operations["get_run"].ok >= 30
    assert scenario.operations["get_pipeline"].ok > 0
    assert any(note.startswith("seeded the embedded simulator with 3 pipelines, 2 experiments and 20 runs")
               for note in scenario.notes), scenario.notes
    assert not any("was never called" in note for note in scenario.notes)
    counts = fresh_kfp_server.stats()["objects"]
    assert (counts["pipelines"], counts["experiments"], counts["runs"]) == (3, 3, 20)


def test_without_seeding_the_notes_say_which_endpoints_were_never_called(fresh_kfp_server: EmbeddedKfpServer,
                                                                         tmp_path: Path) -> None:
    outcome = run_entry(fresh_kfp_server, tmp_path, runTime="1s", rate=40, simulatorData=False,
                        endpoints={"get_run": 1, "healthz": 1})
    scenario = outcome.recorder.scenarios["gets"]
    assert "get_run" not in scenario.operations
    assert scenario.operations["list_runs"].count > 0
    assert any(note.startswith("get_run was never called: no list_runs answer listed any runs, so all its ")
               and note.endswith(" arrivals were sent as list_runs")
               for note in scenario.notes), scenario.notes
    assert fresh_kfp_server.stats()["objects"]["runs"] == 0


def test_custom_seed_counts(fresh_kfp_server: EmbeddedKfpServer, tmp_path: Path) -> None:
    run_entry(fresh_kfp_server, tmp_path, runTime="0.5s", rate=10,
              simulatorData={"pipelines": 1, "experiments": 1, "runs": 5})
    counts = fresh_kfp_server.stats()["objects"]
    assert (counts["pipelines"], counts["experiments"], counts["runs"]) == (1, 1, 5)
