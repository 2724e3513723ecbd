"""PIPELINE_RUN, EXPERIMENT, PIPELINE_UPLOAD and PIPELINE_SCHEDULED_RUN against the embedded simulator,
driven through the real kfp client, scheduled on the shared clock as a session would."""

from __future__ import annotations

import itertools
from typing import Any

import kfp
import pytest

from perf_tests.server import EmbeddedKfpServer


def _server_runs(server: EmbeddedKfpServer) -> list[Any]:
    client = kfp.Client(host=server.url)
    try:
        return client.list_runs(page_size=1000).runs or []
    finally:
        client._run_api.api_client.rest_client.pool_manager.clear()


def test_pipeline_run_keeps_num_times_in_flight_and_records_every_run(run_scenario, kfp_server):
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "pr", "startTime": 0, "runTime": "3s", "numTimes": 3,
                         "params": {"a": 5, "b": 6}, "pollInterval": "100ms"}], cleanup="none")
    assert [r.ok for r in run.results] == [True]
    creates = run.ops("pr", "create_run")
    durations = run.ops("pr", "run_duration")
    assert len(run.ops("pr", "upload_pipeline")) == 1
    # Runs take about 0.2 s on the fast simulator: 3 in flight for ~3 s is many more than 3 runs.
    assert len(creates) >= 9
    assert all(event["ok"] for event in creates + durations)
    assert {e["attrs"]["state"] for e in durations} == {"SUCCEEDED"}
    # Never more than numTimes in flight: at each create, count runs created but not yet finished.
    finished_at = sorted(e["t"] + e["ms"] / 1000 for e in durations)
    for index, create in enumerate(sorted(creates, key=lambda e: e["t"])):
        done_before = sum(1 for t in finished_at if t <= create["t"] + 0.05)
        assert index - done_before < 3 + 1  # tolerance of one for clock granularity between client and server
    created_ids = {e["run_id"] for e in (ev.get("attrs") or {} for ev in durations)}
    server = {r.run_id: r for r in _server_runs(kfp_server)}
    assert created_ids <= server.keys()
    assert all(server[run_id].runtime_config.parameters == {"a": 5, "b": 6} for run_id in created_ids)
    summary = run.recorder.scenarios["pr"].operations["run_duration"].summary()
    assert summary["ok"] == len(durations) and summary["p50_ms"] > 100


def test_total_runs_stops_after_that_many(run_scenario):
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "tr", "startTime": 0, "runTime": "20s", "numTimes": 2,
                         "totalRuns": 4, "pollInterval": "50ms"}])
    assert len(run.ops("tr", "create_run")) == 4
    assert len(run.ops("tr", "run_duration")) == 4
    # The entry ended when its work was done, long before its 20 s runTime.
    record = run.recorder.scenarios["tr"]
    assert record.finished is not None and record.started is not None
    assert record.finished - record.started < 10


def test_experiment_creates_its_experiment_and_cleanup_deletes_what_it_created(run_scenario, kfp_server):
    before = {r.run_id for r in _server_runs(kfp_server)}
    run = run_scenario([{"mode": "EXPERIMENT", "name": "ex", "startTime": 0, "runTime": "2s", "numTimes": 2,
                         "pollInterval": "50ms"}], cleanup="all")
    assert [r.ok for r in run.results] == [True]
    created = run.ops("ex", "create_experiment")
    assert len(created) == 1 and created[0]["ok"]
    runs = run.ops("ex", "create_run")
    assert runs and all(e["ok"] for e in runs)
    deleted = run.ops("ex", "delete_run")
    assert len(deleted) == len(runs)
    assert len(run.ops("ex", "delete_experiment")) == 1
    # Everything the entry created is gone; nothing else was touched.
    after = {r.run_id for r in _server_runs(kfp_server)}
    assert after == before


def test_runs_that_fail_are_recorded_as_failed_run_durations(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(run_failure_probability=1.0)
    run = run_scenario_on(run_scenario, fresh_kfp_server, [
        {"mode": "PIPELINE_RUN", "name": "bad", "startTime": 0, "runTime": "2s", "numTimes": 2, "pollInterval": "50ms"}
    ])
    durations = run.ops("bad", "run_duration")
    assert durations and not any(e["ok"] for e in durations)
    assert {e["error_type"] for e in durations} == {"run_failed"}
    stats = run.recorder.scenarios["bad"].operations["run_duration"]
    assert stats.failed == len(durations) and stats.ok == 0


def run_scenario_on(run_scenario, server, entries):
    """Run against a specific simulator (the fixture targets the session one through kfp_server)."""
    return run_scenario(entries, server=server)


def test_pipeline_upload_spreads_uploads_evenly(run_scenario):
    run = run_scenario([{"mode": "PIPELINE_UPLOAD", "name": "up", "startTime": 0, "runTime": "2s", "numTimes": 4}])
    uploads = sorted(run.ops("up", "upload_pipeline"), key=lambda e: e["t"])
    assert len(uploads) == 4 and all(e["ok"] for e in uploads)
    gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(uploads)]
    assert all(0.3 < gap < 0.8 for gap in gaps), gaps  # planned 0.5 s apart
    assert len(run.ops("up", "delete_pipeline")) == 4


def test_scheduled_run_fires_and_is_removed_at_the_end(run_scenario, kfp_server):
    run = run_scenario([{"mode": "PIPELINE_SCHEDULED_RUN", "name": "sched", "startTime": 0, "runTime": "4s",
                         "intervalSeconds": 1, "listInterval": "500ms", "pollInterval": "50ms"}])
    assert [r.ok for r in run.results] == [True]
    assert len(run.ops("sched", "create_recurring_run")) == 1
    finished = run.ops("sched", "run_duration")
    assert len(finished) >= 2
    assert run.ops("sched", "disable_recurring_run")[0]["ok"]
    assert run.ops("sched", "delete_recurring_run")[0]["ok"]
    client = kfp.Client(host=kfp_server.url)
    try:
        remaining = client.list_recurring_runs(page_size=100).recurring_runs or []
    finally:
        client._run_api.api_client.rest_client.pool_manager.clear()
    assert not [r for r in remaining if "sched" in (r.display_name or "")]


@pytest.mark.parametrize("cleanup", ["none", "runs"])
def test_cleanup_policy_keeps_what_it_should(run_scenario, cleanup):
    run = run_scenario([{"mode": "EXPERIMENT", "name": f"keep-{cleanup}", "startTime": 0, "runTime": "1s",
                         "numTimes": 1, "pollInterval": "50ms"}], cleanup=cleanup)
    name = f"keep-{cleanup}"
    assert bool(run.ops(name, "delete_run")) is (cleanup == "runs")
    assert not run.ops(name, "delete_experiment")
    assert not run.ops(name, "delete_pipeline")
