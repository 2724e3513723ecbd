"""The fault matrix: PIPELINE_RUN against the embedded simulator while it misbehaves.

Invariants in every case: the run completes (no hang, no crash), every failure is counted by type,
success rates and percentiles come from the right populations, and the verdict is right.
"""

from __future__ import annotations

import threading
import time

import pytest

from perf_tests.reports.summary import scenario_summary
from perf_tests.server import EmbeddedKfpServer, SimulatorConfig
from perf_tests.thresholds.verdict import judge_entry

FAST_RUNS = SimulatorConfig(task_seconds=0.1, pending_seconds=0.05, canceling_seconds=0.05, seed=1)
ENTRY = {"mode": "PIPELINE_RUN", "name": "faulty", "startTime": 0, "runTime": "4s", "numTimes": 3,
         "pollInterval": "50ms", "maxPollsPerSecond": 200}


def summarise(run):
    return scenario_summary(run.recorder.scenarios["faulty"]).as_json()


def test_http_500s_are_counted_by_type_and_fail_the_default_verdict(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(error_probability=0.1, seed=7)
    run = run_scenario([ENTRY], server=fresh_kfp_server)
    assert [r.ok for r in run.results] == [True]
    ops = summarise(run)["operations"]
    get_run = ops["get_run"]
    assert get_run["failed"] > 0
    assert set(get_run["errors"]) == {"http_500"}
    assert get_run["failed"] / get_run["count"] == pytest.approx(0.1, abs=0.08)
    assert get_run["success_rate"] == get_run["ok"] / get_run["count"]
    # Every attempt the server answered with 500 was recorded as a failure, and vice versa.
    stats = fresh_kfp_server.stats()["by_route"]
    served_500 = sum(
        counts.get("500", 0) for route, counts in stats.items() if route.startswith("GET /apis/v2beta1/runs/")
    )
    assert served_500 == get_run["failed"]
    part = scenario_summary(run.recorder.scenarios["faulty"])
    verdict = judge_entry(part, allowed_failure_rate=0.0)
    assert not verdict.passed
    assert "http_500" in verdict.failures()[0].message
    assert judge_entry(part, allowed_failure_rate=0.5).passed


def test_latency_spikes_show_in_the_tail_not_the_median(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(latency_spike_probability=0.2, latency_spike_ms=1000, seed=3)
    run = run_scenario([ENTRY], server=fresh_kfp_server)
    get_run = summarise(run)["operations"]["get_run"]
    assert get_run["failed"] == 0
    assert get_run["p50_ms"] < 300
    assert get_run["p99_ms"] >= 1000
    assert get_run["max_ms"] < 1500


def test_dropped_connections_are_connection_errors(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(drop_probability=0.2, seed=11)
    run = run_scenario([ENTRY], server=fresh_kfp_server)
    assert [r.ok for r in run.results] == [True]
    ops = summarise(run)["operations"]
    errors = {kind for name in ("create_run", "get_run") for kind in ops[name]["errors"]}
    assert errors == {"connection"}
    assert ops["get_run"]["failed"] > 0
    # Clean-up deletes are idempotent and retried: everything created was deleted in the end.
    assert ops["delete_pipeline"]["ok"] == 1


def test_hung_responses_cost_a_timeout_never_a_hung_run(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(hang_probability=0.2, seed=5)
    started = time.monotonic()
    run = run_scenario([ENTRY], server=fresh_kfp_server, request_timeout=0.5, stop_grace=5)
    elapsed = time.monotonic() - started
    assert [r.ok for r in run.results] == [True]
    assert elapsed < 4 + 5  # runTime plus a bounded wind-down (set-up, clean-up, one timeout)
    ops = summarise(run)["operations"]
    assert "timeout" in ops["get_run"]["errors"]
    timeouts = [e for e in run.ops("faulty", "get_run") if e.get("error_type") == "timeout"]
    assert all(450 <= e["ms"] < 2000 for e in timeouts)
    # Polls that failed were retried with backoff and say so.
    assert any((e.get("attrs") or {}).get("retry") for e in run.ops("faulty", "get_run"))


def test_runs_that_never_finish_are_terminated_and_noted(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(run_never_finishes_probability=1.0)
    run = run_scenario([{**ENTRY, "runTime": "2s", "numTimes": 2}], server=fresh_kfp_server)
    assert not run.ops("faulty", "run_duration")
    assert len(run.ops("faulty", "terminate_run")) == 2
    notes = run.recorder.scenarios["faulty"].notes
    assert any("had not ended" in note for note in notes)


def test_server_stopped_and_restarted_mid_run(run_scenario, tmp_path):
    # A file database keeps the runs across the restart, as a real KFP's MySQL would. Runs last 2 s, so
    # that runs are in flight (and polled) during the outage whatever the phase of the stop.
    with EmbeddedKfpServer(FAST_RUNS.merged(run_duration_seconds=2.0), db_path=tmp_path / "kfp.db") as server:
        def bounce() -> None:
            server.stop()
            time.sleep(1.0)  # the outage itself, not synchronisation
            server.start()

        timer = threading.Timer(1.5, bounce)
        timer.start()
        try:
            run = run_scenario([{**ENTRY, "runTime": "5s"}], server=server)
        finally:
            timer.join()
    assert [r.ok for r in run.results] == [True]
    ops = summarise(run)["operations"]
    assert "connection" in ops["get_run"]["errors"]
    # Polling resumed after the restart: successful polls after the outage ended.
    outage_end = min(e["t"] for e in run.ops("faulty", "get_run") if not e["ok"]) + 1.0
    assert any(e["ok"] and e["t"] > outage_end for e in run.ops("faulty", "get_run"))
    assert ops["run_duration"]["ok"] > 0


def test_every_request_the_server_saw_is_an_event(run_scenario, fresh_kfp_server):
    run = run_scenario([ENTRY], server=fresh_kfp_server, cleanup="none")
    by_route = fresh_kfp_server.stats()["by_route"]

    def served(prefix: str) -> int:
        return sum(sum(counts.values()) for route, counts in by_route.items() if route == prefix)

    assert served("GET /apis/v2beta1/runs/{run_id}") == len(run.ops("faulty", "get_run"))
    assert served("POST /apis/v2beta1/runs") == len(run.ops("faulty", "create_run"))
