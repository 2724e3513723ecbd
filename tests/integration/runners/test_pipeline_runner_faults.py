"""The pipeline modes when things go wrong: transient faults in set-up, a target that forgets its runs,
planned work the run could not do, and a schedule that fires while the entry ends."""

from __future__ import annotations

import threading
import time
from typing import Any

import kfp
import pytest

from perf_tests.server import EmbeddedKfpServer
from tests.integration.runners.fault_proxy import FaultProxy

VERSIONS = r"/apis/v2beta1/pipelines/[^/]+/versions"
UPLOAD = r"/apis/v2beta1/pipelines/upload"


def _notes(run: Any, name: str) -> list[str]:
    return run.recorder.scenarios[name].notes


def _client(url: str) -> kfp.Client:
    return kfp.Client(host=url)


def _close(client: kfp.Client) -> None:
    client._run_api.api_client.rest_client.pool_manager.clear()


@pytest.fixture
def proxy(fresh_kfp_server):
    with FaultProxy(fresh_kfp_server.url) as proxy:
        yield proxy


# -- item 12: one transient fault in prepare must not abort the entry ---------------------------------


def test_a_dropped_upload_and_three_500s_on_the_version_lookup_are_retried(run_scenario, proxy):
    proxy.plan("POST", UPLOAD, "drop")
    proxy.plan("GET", VERSIONS, 500, 500, 500)
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "flaky-setup", "startTime": 0, "runTime": "1s",
                         "numTimes": 1, "pollInterval": "50ms"}], server=proxy)
    assert [r.ok for r in run.results] == [True], run.results
    uploads = run.ops("flaky-setup", "upload_pipeline")
    assert [(e["ok"], e.get("error_type")) for e in uploads] == [(False, "connection"), (True, None)]
    assert len({e["attrs"]["pipeline_name"] for e in uploads}) == 1  # the same upload, tried again
    lookups = run.ops("flaky-setup", "find_pipeline_versions")
    assert [e.get("error_type") for e in lookups[:4]] == ["http_500", "http_500", "http_500", None]
    assert run.ops("flaky-setup", "create_run")


def test_a_version_lookup_that_keeps_failing_says_so(run_scenario, proxy):
    proxy.plan("GET", VERSIONS, *[503] * 5)
    run = run_scenario([{"mode": "EXPERIMENT", "name": "no-versions", "startTime": 0, "runTime": "1s",
                         "numTimes": 1}], server=proxy)
    (result,) = run.results
    assert not result.ok
    # What really failed, not "the API lists no version for it".
    assert "listing its versions failed" in result.error and "HTTP 503" in result.error, result.error
    assert "after 5 attempts" in result.error
    lookups = run.ops("no-versions", "find_pipeline_versions")
    assert [e.get("error_type") for e in lookups[:5]] == ["http_503"] * 5
    assert lookups[5]["ok"]  # cleanup's own lookup, once the faults were used up: the pipeline is deleted
    assert run.ops("no-versions", "delete_pipeline")[0]["ok"]


def test_an_upload_whose_answer_was_lost_is_found_by_name_not_uploaded_twice(run_scenario, proxy,
                                                                              fresh_kfp_server):
    proxy.plan("POST", UPLOAD, ("hold", 3.0))  # the upload is made, its answer comes after the timeout
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "slow-upload", "startTime": 0, "runTime": "1s",
                         "numTimes": 1, "pollInterval": "50ms"}], server=proxy, cleanup="none",
                       request_timeout=1.0)
    assert [r.ok for r in run.results] == [True], run.results
    uploads = run.ops("slow-upload", "upload_pipeline")
    assert [e.get("error_type") for e in uploads] == ["timeout"]
    assert run.ops("slow-upload", "find_pipeline")[0]["ok"]
    client = _client(fresh_kfp_server.url)
    try:
        names = [p.display_name for p in client.list_pipelines(page_size=100).pipelines or []]
    finally:
        _close(client)
    assert sum("slow-upload" in name for name in names) == 1


# -- item 12: a run that disappears is an outcome, and the entry goes on ----------------------------


def test_runs_the_target_forgets_are_lost_and_new_runs_are_created(run_scenario, fresh_kfp_server):
    server: EmbeddedKfpServer = fresh_kfp_server
    server.configure(run_duration_seconds=60.0)  # nothing finishes before the restart

    restarted: list[float] = []

    def restart_when_runs_exist() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if server.stats()["objects"].get("runs", 0) >= 2:
                server.restart()  # in-memory database: it forgets runs, pipelines and experiments
                server.configure(run_duration_seconds=0.2)
                restarted.append(time.time())
                return
            time.sleep(0.05)  # waiting for the server's state, not for the runner

    restarter = threading.Thread(target=restart_when_runs_exist)
    restarter.start()
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "forgotten", "startTime": 0, "runTime": "8s",
                         "numTimes": 2, "pollInterval": "100ms"}], server=server)
    restarter.join()
    assert [r.ok for r in run.results] == [True], run.results
    record = run.recorder.scenarios["forgotten"]
    assert restarted and restarted[0] < record.started + 5  # the restart came with time left to go on
    durations = run.ops("forgotten", "run_duration")
    lost = [e for e in durations if e.get("error_type") == "run_lost"]
    assert len(lost) == 2 and {e["attrs"]["state"] for e in lost} == {"LOST"}
    # The entry went on: after the restart the pipeline was uploaded again and new runs finished.
    assert any(e["ok"] for e in durations), durations
    assert len(run.ops("forgotten", "upload_pipeline")) == 2
    notes = " | ".join(_notes(run, "forgotten"))
    assert "2 runs disappeared from the target" in notes
    assert "uploaded again" in notes
    # Lost runs are not polled for the rest of the entry: a handful of 404s, not hundreds.
    not_found = [e for e in run.ops("forgotten", "get_run") if e.get("error_type") == "http_404"]
    assert len(not_found) <= 6


# -- item 4: planned work that was not done is said and counted --------------------------------------


def test_uploads_the_run_could_not_make_are_dropped_and_noted(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(latency_ms=200)
    run = run_scenario([{"mode": "PIPELINE_UPLOAD", "name": "too-many", "startTime": 0, "runTime": "1s",
                         "numTimes": 1000, "maxLateness": "100ms"}], server=fresh_kfp_server, cleanup="none")
    assert [r.ok for r in run.results] == [True]
    made = len(run.ops("too-many", "upload_pipeline"))
    summary = run.recorder.scenarios["too-many"].operations["upload_pipeline"].summary()
    assert 0 < made < 1000
    assert summary["dropped"] == 1000 - made  # every planned upload is made or counted
    (note,) = _notes(run, "too-many")
    assert note.startswith(f"made {made} of the 1000 planned uploads") and "dropped" in note


def test_uploads_start_on_time_while_earlier_ones_are_still_answering(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(latency_ms=300)
    run = run_scenario([{"mode": "PIPELINE_UPLOAD", "name": "overlap", "startTime": 0, "runTime": "1s",
                         "numTimes": 10}], server=fresh_kfp_server, cleanup="none")
    uploads = sorted(run.ops("overlap", "upload_pipeline"), key=lambda e: e["t"])
    assert len(uploads) == 10 and all(e["ok"] for e in uploads)
    # Planned 0.1 s apart; each takes 0.3 s, so they overlap: one after another would take 3 s or more.
    assert uploads[-1]["t"] - uploads[0]["t"] < 2.5
    assert not _notes(run, "overlap")


def test_polls_the_cap_cannot_give_every_run_are_noted(run_scenario):
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "capped", "startTime": 0, "runTime": "2s",
                         "numTimes": 10, "pollInterval": "50ms", "maxPollsPerSecond": 20}])
    notes = " | ".join(_notes(run, "capped"))
    assert "get_run polls came more than 2x pollInterval" in notes
    assert "wants 200 polls/s, above maxPollsPerSecond 20" in notes
    gaps = [e["attrs"]["poll_gap"] for e in run.ops("capped", "get_run")]
    assert gaps and max(gaps) > 0.1
    summary = run.recorder.scenarios["capped"].operations["get_run"].summary()
    assert summary["poll_gap"]["p99_ms"] > 100  # the interval the runs got, in the summary


def test_creates_that_queue_for_a_create_slot_are_noted_as_such(run_scenario, fresh_kfp_server):
    # 24 creates at once, 8 at a time, each answered in 20 ms: the later ones wait 20 and 40 ms for a slot.
    fresh_kfp_server.configure(latency_ms=20.0, run_duration_seconds=5.0)
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "queued", "startTime": 0, "runTime": "1s",
                         "numTimes": 24, "pollInterval": "1s"}], server=fresh_kfp_server)
    notes = [note for note in _notes(run, "queued") if note.startswith("create_run calls waited")]
    assert len(notes) == 1, _notes(run, "queued")
    # They waited on the runner's event loop, not for a thread (creates and polls have none since RunApi).
    assert "for a create slot (8 at once) and a free HTTP connection (one of the runner's 16, on its event loop)" \
        in notes[0]
    assert "thread" not in notes[0]


def test_total_runs_not_reached_in_the_run_time_is_noted(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(run_duration_seconds=5.0)
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "short", "startTime": 0, "runTime": "1s",
                         "numTimes": 1, "totalRuns": 3, "pollInterval": "100ms"}], server=fresh_kfp_server)
    notes = " | ".join(_notes(run, "short"))
    assert "created 1 of the 3 runs of totalRuns" in notes


# -- item 11: disable the schedule first, then collect its runs ------------------------------------


def test_a_run_fired_after_the_last_look_is_still_collected_and_cleaned_up(run_scenario, proxy,
                                                                         fresh_kfp_server):
    # The one look for new runs is answered late: the schedule fires meanwhile.
    proxy.plan("GET", r"/apis/v2beta1/runs", ("hold", 2.5))
    run = run_scenario([{"mode": "PIPELINE_SCHEDULED_RUN", "name": "late-fire", "startTime": 0, "runTime": "2s",
                         "intervalSeconds": 1, "listInterval": "30s", "pollInterval": "50ms"}], server=proxy)
    assert [r.ok for r in run.results] == [True], run.results
    client = _client(fresh_kfp_server.url)
    try:
        left = [r for r in client.list_runs(page_size=1000).runs or [] if "late-fire" in (r.display_name or "")]
        schedules = client.list_recurring_runs(page_size=100).recurring_runs or []
    finally:
        _close(client)
    assert run.ops("late-fire", "delete_run")  # it fired, and what it fired was deleted
    assert left == []
    assert schedules == []
    ops = [e["op"] for e in sorted(run.events(), key=lambda e: e["t"]) if e["type"] == "op"]
    assert ops.index("disable_recurring_run") < ops.index("list_runs") < ops.index("delete_recurring_run")


def test_drain_time_keeps_following_runs_in_flight_after_run_time(run_scenario, fresh_kfp_server):
    fresh_kfp_server.configure(run_duration_seconds=1.5)
    run = run_scenario([{"mode": "PIPELINE_RUN", "name": "drained", "startTime": 0, "runTime": "0.5s",
                         "numTimes": 2, "pollInterval": "100ms", "drainTime": "5s"}], server=fresh_kfp_server)
    durations = run.ops("drained", "run_duration")
    # Both runs end about 1 s after runTime, inside drainTime: they are followed to their end and counted.
    assert len(durations) == 2 and all(e["ok"] for e in durations)
    assert not run.ops("drained", "terminate_run")
    assert not any("had not ended" in note for note in _notes(run, "drained"))
