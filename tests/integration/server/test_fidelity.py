"""The simulator behaves like the real KFP API server where a scenario could tell the difference.

Each test drives the real ``kfp.Client`` (or raw HTTP where the client has no call) and names the Go
function of kubeflow/pipelines ``backend/src/`` (or robfig/cron v1.2.0) whose behaviour it checks.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kfp
import kfp_server_api
import pytest

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def api_error(caught: pytest.ExceptionInfo[kfp_server_api.ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(caught.value.body)
    return body


def runs_of(client: kfp.Client, experiment_id: str) -> list[Any]:
    return client.list_runs(experiment_id=experiment_id, page_size=200).runs or []


# -- load shaping --------------------------------------------------------------------------------


def test_five_field_cron_fires_every_second_not_every_minute(kfp_client: kfp.Client) -> None:
    """robfig/cron v1.2.0 ``cron.Parse`` (as ``cron_schedule.go`` ``getNextScheduledTimeImp`` uses it) reads
    5 fields as ``second minute hour dom month``: ``* * * * *`` fires every second."""
    experiment = kfp_client.create_experiment(unique("cron5"))
    recurring = kfp_client.create_recurring_run(
        experiment.experiment_id,
        "every-second",
        cron_expression="* * * * *",
        pipeline_package_path=str(PIPELINE),
        max_concurrency=10,
    )
    try:
        deadline = time.monotonic() + 10
        while len(runs_of(kfp_client, experiment.experiment_id)) < 2:
            assert time.monotonic() < deadline, "a 5-field cron did not fire twice within 10 s"
            time.sleep(0.1)
        scheduled = sorted(r.scheduled_at for r in runs_of(kfp_client, experiment.experiment_id))
        assert scheduled[1] - scheduled[0] == timedelta(seconds=1)
    finally:
        kfp_client.delete_recurring_run(recurring.recurring_run_id)


def test_past_start_time_backfills_with_catchup_and_fires_once_without(kfp_client: kfp.Client) -> None:
    """``PeriodicSchedule.GetNextScheduledEpoch``: no fire yet → count from ``start_time`` (catch-up fires
    every missed interval); ``GetNextScheduledEpochNoCatchup``: behind by an interval → one fire now."""
    start = (datetime.now(UTC) - timedelta(seconds=50)).strftime("%Y-%m-%dT%H:%M:%SZ")
    eager = kfp_client.create_experiment(unique("catchup"))
    lazy = kfp_client.create_experiment(unique("nocatchup"))
    created = [
        kfp_client.create_recurring_run(
            experiment.experiment_id,
            "past-start",
            start_time=start,
            interval_second=10,
            no_catchup=no_catchup,
            pipeline_package_path=str(PIPELINE),
            max_concurrency=10,
        )
        for experiment, no_catchup in ((eager, False), (lazy, True))
    ]
    try:
        deadline = time.monotonic() + 10
        while len(runs_of(kfp_client, eager.experiment_id)) < 5 or not runs_of(kfp_client, lazy.experiment_id):
            assert time.monotonic() < deadline, "the past start time was not caught up"
            time.sleep(0.05)
        backfilled = sorted(r.scheduled_at for r in runs_of(kfp_client, eager.experiment_id))[:5]
        first = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert backfilled == [first + timedelta(seconds=10 * i) for i in range(1, 6)]
        once = runs_of(kfp_client, lazy.experiment_id)
        assert len(once) == 1
        assert abs((once[0].scheduled_at - datetime.now(UTC)).total_seconds()) < 5
    finally:
        for recurring in created:
            kfp_client.delete_recurring_run(recurring.recurring_run_id)


def test_list_runs_carries_task_details_and_whole_second_timestamps(kfp_client: kfp.Client) -> None:
    """``RunStore.ListRuns`` joins the tasks table (``addMetricsResourceReferencesAndTasks``), so listed runs
    carry ``run_details.task_details`` as ``get_run`` does; ``toApiRun`` writes whole seconds."""
    experiment = kfp_client.create_experiment(unique("payload"))
    result = kfp_client.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)
    kfp_client.wait_for_run_completion(result.run_id, timeout=20, sleep_duration=0.05)
    listed = kfp_client.list_runs(experiment_id=experiment.experiment_id).runs[0]
    fetched = kfp_client.get_run(result.run_id)
    assert listed.run_details is not None
    assert listed.run_details.to_dict() == fetched.run_details.to_dict()
    tasks = listed.run_details.task_details
    assert len(tasks) == 3
    assert all(t.execution_id and t.child_tasks and t.state_history for t in tasks)
    for stamp in (listed.created_at, listed.scheduled_at, listed.finished_at, tasks[0].start_time):
        assert stamp.microsecond == 0
