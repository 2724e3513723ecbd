"""KFP semantics without HTTP: a service on an in-memory store with a hand-driven clock."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.server.config import SimulatorConfig
from perf_tests.server.errors import ApiError
from perf_tests.server.service import KfpService
from perf_tests.server.store import Store
from perf_tests.server.timestamps import format_ts, format_ts_whole

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"
SPEC = yaml.safe_load(PIPELINE.read_text())
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make_service(clock: Clock, **config: Any) -> KfpService:
    settings = SimulatorConfig.model_validate({"task_seconds": 1.0, "pending_seconds": 0.5, **config})
    return KfpService(Store(), settings, random.Random(1), clock)


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def runs_of(service: KfpService, recurring_run_id: str) -> list[dict[str, Any]]:
    filter_text = json.dumps(
        {"predicates": [{"key": "recurring_run_id", "operation": 1, "string_value": recurring_run_id}]}
    )
    listed = json.loads(service.list_runs({"filter": filter_text, "page_size": "200", "sort_by": "scheduled_at"}))
    return list(listed.get("runs", []))


def recurring(service: KfpService, **fields: Any) -> str:
    created = json.loads(service.create_recurring_run(body(display_name="rr", pipeline_spec=SPEC, **fields)))
    return str(created["recurring_run_id"])


def test_run_state_follows_the_clock() -> None:
    clock = Clock()
    service = make_service(clock)
    run = json.loads(service.create_run(body(display_name="r", pipeline_spec=SPEC)))
    assert run["state"] == "PENDING"
    assert run["finished_at"] == "1970-01-01T00:00:00Z"
    clock.now += 1.0
    assert json.loads(service.get_run(run["run_id"]))["state"] == "RUNNING"
    clock.now += 3.0
    done = json.loads(service.get_run(run["run_id"]))
    assert done["state"] == "SUCCEEDED"
    assert done["finished_at"] == format_ts_whole(T0 + 3.5) == format_ts(T0 + 3)  # toApiRun: whole seconds
    assert [t["state"] for t in done["run_details"]["task_details"]] == ["SUCCEEDED"] * 3


@pytest.mark.parametrize("precision", ["seconds", "milliseconds"])
def test_last_run_created_at_is_the_newest_run_whichever_second_it_falls_in(precision: str) -> None:
    """``ExperimentStore.UpdateLastRun`` on every CreateRun; the store skips the write for a run no newer
    than the experiment's latest as read in the same call, which must not lose a newer one."""
    clock = Clock()
    service = make_service(clock, timestamp_precision=precision)
    experiment = json.loads(service.create_experiment(body(display_name="e")))["experiment_id"]
    other = json.loads(service.create_experiment(body(display_name="other")))["experiment_id"]
    shown = []
    for step in (0.2, 0.3, 0.4, 0.2):  # T0+0.2 and T0+0.5 share a second, T0+0.9 too, T0+1.1 does not
        clock.now += step
        service.create_run(body(display_name="r", pipeline_spec=SPEC, experiment_id=experiment))
        shown.append(json.loads(service.get_experiment(experiment))["last_run_created_at"])
    service.create_run(body(display_name="r", pipeline_spec=SPEC, experiment_id=other))
    whole = precision == "seconds"
    expected = [T0 + 0.2, T0 + 0.5, T0 + 0.9, T0 + 1.1]
    assert shown == [format_ts(float(int(t)) if whole else t) for t in expected]
    assert json.loads(service.get_experiment(other))["last_run_created_at"] == shown[-1]  # its own first run


def test_default_experiment_exists_once_and_cannot_be_deleted() -> None:
    """``ResourceManager.DeleteExperiment`` refuses the default experiment with ``NewBadRequestError`` (ABORTED)."""
    clock = Clock()
    service = make_service(clock)
    experiments = json.loads(service.list_experiments({}))["experiments"]
    assert [e["display_name"] for e in experiments] == ["Default"]
    with pytest.raises(ApiError, match="default experiment cannot be deleted") as caught:
        service.delete_experiment(experiments[0]["experiment_id"])
    assert caught.value.http_status == 409
    run = json.loads(service.create_run(body(display_name="r", pipeline_spec=SPEC)))
    assert run["experiment_id"] == experiments[0]["experiment_id"]
    shown = json.loads(service.get_experiment(run["experiment_id"]))
    assert shown["last_run_created_at"] == format_ts(T0)


def test_periodic_schedule_fires_each_interval_with_catchup() -> None:
    clock = Clock()
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    rid = recurring(service, trigger={"periodic_schedule": {"interval_second": 10}}, max_concurrency=10)
    service.fire_due_recurring_runs()
    assert runs_of(service, rid) == []
    clock.now += 35
    service.fire_due_recurring_runs()
    fired = runs_of(service, rid)
    assert [r["scheduled_at"] for r in fired] == [format_ts(T0 + s) for s in (10, 20, 30)]
    assert [r["display_name"] for r in fired] == ["rr-1", "rr-2", "rr-3"]
    assert service.next_fire_time() == T0 + 40


def test_no_catchup_fires_once_now() -> None:
    """Periodic ``no_catchup`` behind by an interval fires once at now, then counts from there
    (``PeriodicSchedule.GetNextScheduledEpochNoCatchup``)."""
    clock = Clock()
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    rid = recurring(service, trigger={"periodic_schedule": {"interval_second": "10"}}, no_catchup=True)
    clock.now += 35
    service.fire_due_recurring_runs()
    assert [r["scheduled_at"] for r in runs_of(service, rid)] == [format_ts(T0 + 35)]
    assert service.next_fire_time() == T0 + 45


def test_periodic_counts_from_a_past_start_time_and_backfills() -> None:
    """No fire yet: ``GetNextScheduledEpoch`` counts from ``start_time``, so a past one is caught up at once."""
    clock = Clock()
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    trigger = {"periodic_schedule": {"interval_second": "30", "start_time": format_ts(T0 - 100)}}
    rid = recurring(service, trigger=trigger, max_concurrency=10)
    service.fire_due_recurring_runs()
    assert [r["scheduled_at"] for r in runs_of(service, rid)] == [format_ts(T0 - s) for s in (70, 40, 10)]
    assert service.next_fire_time() == T0 + 20


def test_periodic_past_start_time_without_catchup_fires_once_now() -> None:
    clock = Clock()
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    trigger = {"periodic_schedule": {"interval_second": "30", "start_time": format_ts(T0 - 100)}}
    rid = recurring(service, trigger=trigger, no_catchup=True, max_concurrency=10)
    service.fire_due_recurring_runs()
    assert [r["scheduled_at"] for r in runs_of(service, rid)] == [format_ts(T0)]
    assert service.next_fire_time() == T0 + 30


def test_periodic_future_start_time_fires_one_interval_after_it() -> None:
    """``getNextScheduledEpoch(start)`` is ``start + interval`` (the start itself is not a fire time)."""
    clock = Clock()
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    trigger = {"periodic_schedule": {"interval_second": "30", "start_time": format_ts(T0 + 100)}}
    recurring(service, trigger=trigger)
    assert service.next_fire_time() == T0 + 130


def test_cron_counts_from_a_past_start_time() -> None:
    """``CronSchedule.getNextScheduledTimeImp``: ``Next(start_time)`` with catch-up, else the last due time."""
    clock = Clock()  # T0 is 22:13:20 UTC
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    trigger = {"cron_schedule": {"cron": "0/10 * * * * *", "start_time": format_ts(T0 - 35)}}
    rid = recurring(service, trigger=trigger, max_concurrency=10)
    lazy = recurring(service, trigger=trigger, max_concurrency=10, no_catchup=True)
    service.fire_due_recurring_runs()
    assert [r["scheduled_at"] for r in runs_of(service, rid)] == [format_ts(T0 - s) for s in (30, 20, 10, 0)]
    assert [r["scheduled_at"] for r in runs_of(service, lazy)] == [format_ts(T0)]
    assert service.next_fire_time() == T0 + 10


def test_five_field_cron_fires_every_five_seconds() -> None:
    """robfig/cron v1.2.0 ``cron.Parse``: a 5-field spec is seconds-first, so ``*/5 * * * *`` is every 5 s."""
    clock = Clock()
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    rid = recurring(service, trigger={"cron_schedule": {"cron": "*/5 * * * *"}}, max_concurrency=10)
    clock.now += 60
    service.fire_due_recurring_runs()
    assert len(runs_of(service, rid)) == 12


def test_max_concurrency_holds_runs_back() -> None:
    clock = Clock()
    service = make_service(clock)  # each run takes 3.5 s
    rid = recurring(service, trigger={"periodic_schedule": {"interval_second": 1}}, max_concurrency=1)
    clock.now += 1
    assert service.fire_due_recurring_runs() is False
    clock.now += 1
    assert service.fire_due_recurring_runs() is True  # the first run is still active
    assert len(runs_of(service, rid)) == 1
    clock.now += 3
    service.fire_due_recurring_runs()
    assert len(runs_of(service, rid)) == 2


def test_cron_schedule_with_start_and_end_time() -> None:
    clock = Clock()
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    trigger = {
        "cron_schedule": {
            "cron": "0 * * * * *",
            "start_time": format_ts(T0 + 120),
            "end_time": format_ts(T0 + 300),
        }
    }
    rid = recurring(service, trigger=trigger, max_concurrency=10)
    shown = json.loads(service.get_recurring_run(rid))
    assert shown["trigger"]["cron_schedule"]["start_time"] == format_ts(T0 + 120)
    clock.now += 3600
    service.fire_due_recurring_runs()
    times = [r["scheduled_at"] for r in runs_of(service, rid)]
    assert len(times) == 3
    assert all(t.endswith(":00Z") for t in times)
    assert service.next_fire_time() is None


@pytest.mark.parametrize(("no_catchup", "fired"), [(False, 11), (True, 1)])
def test_disable_and_enable(no_catchup: bool, fired: int) -> None:
    """Enabling only patches ``spec.enabled`` (``ResourceManager.ChangeJobMode``): the controller then counts
    from the creation time, so catch-up backfills what the disabled time missed."""
    clock = Clock()
    service = make_service(clock, task_seconds=0.0, pending_seconds=0.0)
    rid = recurring(
        service, trigger={"periodic_schedule": {"interval_second": 10}}, mode="DISABLE", no_catchup=no_catchup
    )
    assert json.loads(service.get_recurring_run(rid))["status"] == "DISABLED"
    clock.now += 100
    service.fire_due_recurring_runs()
    assert runs_of(service, rid) == []
    service.set_recurring_enabled(rid, True)
    assert json.loads(service.get_recurring_run(rid))["mode"] == "ENABLE"
    clock.now += 10
    service.fire_due_recurring_runs()
    assert len(runs_of(service, rid)) == fired


def test_recurring_run_of_a_deleted_version_disables_itself() -> None:
    clock = Clock()
    service = make_service(clock)
    pipeline = json.loads(service.upload_pipeline({"name": "p"}, PIPELINE.read_bytes(), "p.yaml"))
    version = json.loads(service.list_pipeline_versions(pipeline["pipeline_id"], {}))["pipeline_versions"][0]
    reference = {"pipeline_id": pipeline["pipeline_id"], "pipeline_version_id": version["pipeline_version_id"]}
    created = json.loads(
        service.create_recurring_run(
            body(
                display_name="v",
                experiment_id=json.loads(service.create_experiment(body(display_name="doomed")))["experiment_id"],
                pipeline_version_reference=reference,
                trigger={"periodic_schedule": {"interval_second": 1}},
            )
        )
    )
    service.delete_experiment(created["experiment_id"])
    clock.now += 5
    service.fire_due_recurring_runs()
    assert json.loads(service.get_recurring_run(created["recurring_run_id"]))["status"] == "DISABLED"


def test_run_from_pipeline_id_alone_uses_the_latest_version() -> None:
    clock = Clock()
    service = make_service(clock)
    pipeline = json.loads(service.upload_pipeline({"name": "p"}, PIPELINE.read_bytes(), "p.yaml"))
    clock.now += 1
    latest = json.loads(
        service.upload_pipeline_version(
            {"name": "v2", "pipelineid": pipeline["pipeline_id"]}, PIPELINE.read_bytes(), "x"
        )
    )
    run = json.loads(
        service.create_run(body(display_name="r", pipeline_version_reference={"pipeline_id": pipeline["pipeline_id"]}))
    )
    assert run["pipeline_version_reference"]["pipeline_version_id"] == latest["pipeline_version_id"]
    assert "pipeline_spec" not in run


def test_pipeline_and_version_names_are_unique() -> None:
    service = make_service(Clock())
    pipeline = json.loads(service.upload_pipeline({"name": "p"}, PIPELINE.read_bytes(), "p.yaml"))
    with pytest.raises(ApiError) as duplicate:
        service.upload_pipeline({"name": "p"}, PIPELINE.read_bytes(), "p.yaml")
    assert duplicate.value.http_status == 409
    with pytest.raises(ApiError) as duplicate_version:
        service.upload_pipeline_version(
            {"name": "p", "pipelineid": pipeline["pipeline_id"]}, PIPELINE.read_bytes(), "x"
        )
    assert duplicate_version.value.http_status == 409
    created = json.loads(
        service.create_pipeline_and_version(
            body(pipeline={"display_name": "q"}, pipeline_version={"name": "v1", "pipeline_spec": SPEC})
        )
    )
    assert created["name"] == created["display_name"] == "q"


def test_single_user_ignores_namespaces_multi_user_keeps_them() -> None:
    single = make_service(Clock())
    created = json.loads(single.create_experiment(body(display_name="e", namespace="team-a")))
    assert "namespace" not in created
    assert json.loads(single.list_experiments({"namespace": "team-b"}))["total_size"] == 2

    multi = make_service(Clock(), multi_user=True, namespace_access={"ann": ["team-a", "team-b"]})
    multi.current_user = "ann"
    assert json.loads(multi.healthz())["multi_user"] is True
    multi.create_experiment(body(display_name="e", namespace="team-a"))
    multi.create_experiment(body(display_name="e", namespace="team-b"))
    listed = json.loads(multi.list_experiments({"namespace": "team-a"}))
    assert [e["namespace"] for e in listed["experiments"]] == ["team-a"]
    with pytest.raises(ApiError, match="requires a namespace in multi-user mode"):
        multi.list_experiments({})
    multi.current_user = "bob"
    with pytest.raises(ApiError, match="not authorized") as caught:
        multi.list_experiments({"namespace": "team-a"})
    assert caught.value.http_status == 403


def test_empty_lists_leave_fields_out_like_proto_json() -> None:
    service = make_service(Clock())
    assert json.loads(service.list_runs({})) == {}
    assert json.loads(service.list_recurring_runs({})) == {}


def test_a_finished_runs_kept_answer_follows_every_change_to_it() -> None:
    clock = Clock()
    service = make_service(clock, run_failure_probability=1.0)
    experiment = json.loads(service.create_experiment(body(display_name="e")))["experiment_id"]
    run_id = json.loads(service.create_run(body(display_name="r", pipeline_spec=SPEC, experiment_id=experiment)))[
        "run_id"
    ]
    clock.now += 3600

    def get() -> dict[str, Any]:
        return dict(json.loads(service.get_run(run_id)))

    def listed() -> dict[str, Any]:
        (run,) = json.loads(service.list_runs({"experiment_id": experiment}))["runs"]
        return dict(run)

    assert get() == listed() and get()["state"] == "FAILED"  # answered again from the kept answer
    assert get()["pipeline_spec"] and get()["run_details"]["task_details"]
    service.set_run_archived(run_id, True)
    assert get()["storage_state"] == listed()["storage_state"] == "ARCHIVED"
    service.set_run_archived(run_id, False)
    assert listed()["storage_state"] == get()["storage_state"] == "AVAILABLE"
    service.retry_run(run_id)
    assert listed()["state"] == get()["state"] == "PENDING"
    clock.now += 3600
    assert get()["state"] == "FAILED"
    service.set_experiment_archived(experiment, True)
    assert listed()["storage_state"] == get()["storage_state"] == "ARCHIVED"
    service.delete_run(run_id)
    with pytest.raises(ApiError):
        service.get_run(run_id)
