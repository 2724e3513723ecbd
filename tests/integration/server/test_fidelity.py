"""The simulator behaves like the real KFP API server where a scenario could tell the difference.

Each test drives the real ``kfp.Client`` (or raw HTTP where the client has no call) and names the Go
function of kubeflow/pipelines ``backend/src/`` (or robfig/cron v1.2.0) whose behaviour it checks.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kfp
import kfp_server_api
import pytest

from perf_tests.server import EmbeddedKfpServer, SimulatorConfig

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"


FAITHFUL = SimulatorConfig(task_seconds=0.05, pending_seconds=0.02, canceling_seconds=0.05, seed=7)
"""Fast runs, otherwise the defaults: whole-second timestamps as the real server has them."""


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedKfpServer]:
    with EmbeddedKfpServer(FAITHFUL) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: EmbeddedKfpServer) -> Iterator[kfp.Client]:
    made = kfp.Client(host=server.url)
    yield made
    made._run_api.api_client.rest_client.pool_manager.clear()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def api_error(caught: pytest.ExceptionInfo[kfp_server_api.ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(caught.value.body)
    return body


def runs_of(client: kfp.Client, experiment_id: str) -> list[Any]:
    return client.list_runs(experiment_id=experiment_id, page_size=200).runs or []


# -- load shaping --------------------------------------------------------------------------------


def test_five_field_cron_fires_every_second_not_every_minute(client: kfp.Client) -> None:
    """robfig/cron v1.2.0 ``cron.Parse`` (as ``cron_schedule.go`` ``getNextScheduledTimeImp`` uses it) reads
    5 fields as ``second minute hour dom month``: ``* * * * *`` fires every second."""
    experiment = client.create_experiment(unique("cron5"))
    recurring = client.create_recurring_run(
        experiment.experiment_id,
        "every-second",
        cron_expression="* * * * *",
        pipeline_package_path=str(PIPELINE),
        max_concurrency=10,
    )
    try:
        deadline = time.monotonic() + 10
        while len(runs_of(client, experiment.experiment_id)) < 2:
            assert time.monotonic() < deadline, "a 5-field cron did not fire twice within 10 s"
            time.sleep(0.1)
        scheduled = sorted(r.scheduled_at for r in runs_of(client, experiment.experiment_id))
        assert scheduled[1] - scheduled[0] == timedelta(seconds=1)
    finally:
        client.delete_recurring_run(recurring.recurring_run_id)


def test_past_start_time_backfills_with_catchup_and_fires_once_without(client: kfp.Client) -> None:
    """``PeriodicSchedule.GetNextScheduledEpoch``: no fire yet → count from ``start_time`` (catch-up fires
    every missed interval); ``GetNextScheduledEpochNoCatchup``: behind by an interval → one fire now."""
    start = (datetime.now(UTC) - timedelta(seconds=50)).strftime("%Y-%m-%dT%H:%M:%SZ")
    eager = client.create_experiment(unique("catchup"))
    lazy = client.create_experiment(unique("nocatchup"))
    created = [
        client.create_recurring_run(
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
        while len(runs_of(client, eager.experiment_id)) < 5 or not runs_of(client, lazy.experiment_id):
            assert time.monotonic() < deadline, "the past start time was not caught up"
            time.sleep(0.05)
        backfilled = sorted(r.scheduled_at for r in runs_of(client, eager.experiment_id))[:5]
        first = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert backfilled == [first + timedelta(seconds=10 * i) for i in range(1, 6)]
        once = runs_of(client, lazy.experiment_id)
        assert len(once) == 1
        assert abs((once[0].scheduled_at - datetime.now(UTC)).total_seconds()) < 5
    finally:
        for recurring in created:
            client.delete_recurring_run(recurring.recurring_run_id)


def test_list_runs_carries_task_details_and_whole_second_timestamps(client: kfp.Client) -> None:
    """``RunStore.ListRuns`` joins the tasks table (``addMetricsResourceReferencesAndTasks``), so listed runs
    carry ``run_details.task_details`` as ``get_run`` does; ``toApiRun`` writes whole seconds."""
    experiment = client.create_experiment(unique("payload"))
    result = client.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)
    client.wait_for_run_completion(result.run_id, timeout=20, sleep_duration=0.05)
    listed = client.list_runs(experiment_id=experiment.experiment_id).runs[0]
    fetched = client.get_run(result.run_id)
    assert listed.run_details is not None
    assert listed.run_details.to_dict() == fetched.run_details.to_dict()
    tasks = listed.run_details.task_details
    assert len(tasks) == 3
    assert all(t.execution_id and t.child_tasks and t.state_history for t in tasks)
    for stamp in (listed.created_at, listed.scheduled_at, listed.finished_at, tasks[0].start_time):
        assert stamp.microsecond == 0


# -- errors a scenario can hit -------------------------------------------------------------------


def _finished_run(client: kfp.Client) -> tuple[str, str]:
    experiment = client.create_experiment(unique("errors"))
    result = client.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)
    client.wait_for_run_completion(result.run_id, timeout=20, sleep_duration=0.05)
    return experiment.experiment_id, result.run_id


def test_terminating_a_finished_run_is_invalid_argument(client: kfp.Client) -> None:
    """``RunStore.TerminateRun``: ``UPDATE ... WHERE State IN (PAUSED, PENDING, RUNNING, UNSPECIFIED)``, and
    no changed row is ``NewInvalidInputError`` (HTTP 400)."""
    _, run_id = _finished_run(client)
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.terminate_run(run_id)
    assert caught.value.status == 400
    assert api_error(caught)["code"] == 3


def test_retrying_a_succeeded_run_is_aborted(client: kfp.Client) -> None:
    """``Workflow.GenerateRetryExecution``: not Failed/Error → ``NewBadRequestError`` (ABORTED, HTTP 409)."""
    _, run_id = _finished_run(client)
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client._run_api.run_service_retry_run(run_id)
    assert caught.value.status == 409
    assert api_error(caught)["code"] == 10


def test_the_default_experiment_cannot_be_deleted(client: kfp.Client) -> None:
    """``ResourceManager.DeleteExperiment``: the default experiment is refused (ABORTED, HTTP 409)."""
    default = client.get_experiment(experiment_name="Default")
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.delete_experiment(default.experiment_id)
    assert caught.value.status == 409
    assert "default experiment cannot be deleted" in api_error(caught)["message"]
    assert client.get_experiment(experiment_id=default.experiment_id).display_name == "Default"


def test_unarchiving_a_run_of_an_archived_experiment_is_a_failed_precondition(client: kfp.Client) -> None:
    """``ResourceManager.UnarchiveRun``: the experiment must be un-archived first (FAILED_PRECONDITION)."""
    experiment_id, run_id = _finished_run(client)
    client.archive_experiment(experiment_id)
    assert client.get_run(run_id).storage_state == "ARCHIVED"
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.unarchive_run(run_id)
    assert caught.value.status == 400
    assert api_error(caught)["code"] == 9
    client.unarchive_experiment(experiment_id)
    client.unarchive_run(run_id)
    assert client.get_run(run_id).storage_state == "AVAILABLE"


def test_listing_under_an_unknown_experiment_or_pipeline_is_not_found(client: kfp.Client) -> None:
    """``BaseRunServer.listRuns`` / ``BaseJobServer.listJobs`` read the experiment's namespace first and
    ``listPipelineVersions`` the pipeline's, so an unknown id is NOT_FOUND rather than an empty page."""
    missing = str(uuid.uuid4())
    for call in (
        lambda: client.list_runs(experiment_id=missing),
        lambda: client.list_recurring_runs(experiment_id=missing),
        lambda: client.list_pipeline_versions(missing),
    ):
        with pytest.raises(kfp_server_api.ApiException) as caught:
            call()
        assert caught.value.status == 404
        assert api_error(caught)["code"] == 5


def test_listing_under_a_deleted_experiment_is_not_found(client: kfp.Client) -> None:
    """The experiment's namespace is read on every page (``BaseRunServer.listRuns``); once the experiment is
    deleted the next page is NOT_FOUND, even right after a page under it succeeded."""
    experiment = client.create_experiment(unique("deleted"))
    assert client.list_runs(experiment_id=experiment.experiment_id).runs is None
    client.delete_experiment(experiment.experiment_id)
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.list_runs(experiment_id=experiment.experiment_id)
    assert caught.value.status == 404
    assert api_error(caught)["code"] == 5


def test_unknown_fields_in_a_body_are_rejected(server: EmbeddedKfpServer) -> None:
    """``common.CustomMarshaler``: protojson with ``DiscardUnknown: false`` → INVALID_ARGUMENT."""
    for path, body in (
        ("experiments", {"display_name": unique("x"), "descripton": "typo"}),
        ("runs", {"display_name": "r", "pipeline_spec": {}, "runtime_config": {"paramters": {}}}),
        ("recurringruns", {"display_name": "r", "trigger": {"cron_schedule": {"cron": "* * * * * *", "x": 1}}}),
    ):
        request = urllib.request.Request(
            f"{server.url}/apis/v2beta1/{path}", data=json.dumps(body).encode(), method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        answer = json.loads(caught.value.read())
        assert caught.value.code == 400
        assert answer["code"] == 3
        assert "unknown field" in answer["message"]


def test_pipelines_and_versions_can_be_renamed_with_patch(client: kfp.Client) -> None:
    """``PipelineServer.UpdatePipeline`` / ``UpdatePipelineVersion`` (``PATCH`` in the v2beta1 swagger)."""
    pipeline = client.upload_pipeline(str(PIPELINE), pipeline_name=unique("patch"))
    renamed = client._pipelines_api.pipeline_service_update_pipeline(
        pipeline_pipeline_id=pipeline.pipeline_id,
        pipeline=kfp_server_api.V2beta1Pipeline(display_name="Renamed pipeline"),
    )
    assert renamed.display_name == "Renamed pipeline"
    assert client.get_pipeline(pipeline.pipeline_id).display_name == "Renamed pipeline"
    version = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    updated = client._pipelines_api.pipeline_service_update_pipeline_version(
        pipeline_version_pipeline_id=pipeline.pipeline_id,
        pipeline_version_pipeline_version_id=version.pipeline_version_id,
        pipeline_version=kfp_server_api.V2beta1PipelineVersion(display_name="Renamed version"),
    )
    assert updated.display_name == "Renamed version"
    assert updated.pipeline_spec is not None


def test_deleting_a_pipeline_with_versions_is_invalid_argument(client: kfp.Client) -> None:
    """``ResourceManager.DeletePipeline`` without cascade: ``NewInvalidInputError`` (code 3, HTTP 400)."""
    pipeline = client.upload_pipeline(str(PIPELINE), pipeline_name=unique("keep"))
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.delete_pipeline(pipeline.pipeline_id)
    assert caught.value.status == 400
    assert api_error(caught)["code"] == 3


# -- sort and filter field sets ------------------------------------------------------------------


def _filter(key: str, operation: int, value: str) -> str:
    return json.dumps({"predicates": [{"key": key, "operation": operation, "string_value": value}]})


def test_run_sort_and_filter_fields_are_the_go_map(client: kfp.Client) -> None:
    """``runAPIToModelFieldMap`` (+ ``metric:<name>`` in ``Run.GetField``): sortable on state, storage_state,
    description, experiment_id, status, metrics; filterable on status; not on pipeline_id
    (``filter.ReplaceKeys``: "no support for filtering on unrecognized field")."""
    experiment_id, run_id = _finished_run(client)
    for sort_by in ("state", "storage_state desc", "description", "experiment_id", "status", "metric:accuracy desc"):
        page = client.list_runs(experiment_id=experiment_id, sort_by=sort_by)
        assert [r.run_id for r in page.runs] == [run_id], sort_by
    succeeded = client.list_runs(experiment_id=experiment_id, filter=_filter("status", 1, "Succeeded"))
    assert [r.run_id for r in succeeded.runs] == [run_id]
    for key in ("pipeline_id", "pipeline_version_id"):
        with pytest.raises(kfp_server_api.ApiException) as caught:
            client.list_runs(experiment_id=experiment_id, filter=_filter(key, 1, "x"))
        assert caught.value.status == 400
        assert "unrecognized field" in api_error(caught)["message"]
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.list_runs(experiment_id=experiment_id, sort_by="pipeline_id")
    assert caught.value.status == 400


def test_recurring_run_and_version_filters_reject_what_go_rejects(client: kfp.Client) -> None:
    """``jobAPIToModelFieldMap`` has no experiment_id/pipeline_id; ``PipelineVersion.APIToModelFieldMap`` no
    pipeline_id; experiments sort on description (``experimentAPIToModelFieldMap``)."""
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.list_recurring_runs(filter=_filter("experiment_id", 1, "x"))
    assert caught.value.status == 400
    pipeline = client.upload_pipeline(str(PIPELINE), pipeline_name=unique("fields"))
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.list_pipeline_versions(pipeline.pipeline_id, filter=_filter("pipeline_id", 1, pipeline.pipeline_id))
    assert caught.value.status == 400
    ready = client.list_pipeline_versions(pipeline.pipeline_id, filter=_filter("status", 1, "READY"))
    assert ready.total_size == 1
    assert client.list_experiments(sort_by="description desc", page_size=1).experiments


def test_substring_filters_use_like_wildcards_and_ignore_case(client: kfp.Client) -> None:
    """``Filter.AddToSelect`` builds ``LIKE '%v%'`` from the raw value: "_" matches any one character, "%"
    any run of them; comparisons ignore case as MySQL's default ``_ci`` collation does (assumed, not run)."""
    prefix = unique("Like")
    for suffix in ("a_b", "axb", "A%B", "ab"):
        client.create_experiment(f"{prefix}-{suffix}")

    def names(key: str, operation: int, value: str) -> list[str]:
        listed = client.list_experiments(filter=_filter(key, operation, value), sort_by="name", page_size=50)
        return [e.display_name for e in listed.experiments or []]

    # Sorted by name case-insensitively too: "A%B" < "a_b" < "ab" < "axb".
    assert names("display_name", 9, f"{prefix}-a_b") == [f"{prefix}-A%B", f"{prefix}-a_b", f"{prefix}-axb"]
    assert names("display_name", 9, f"{prefix}-a%b") == [f"{prefix}-{s}" for s in ("A%B", "a_b", "ab", "axb")]
    assert names("display_name", 1, f"{prefix.upper()}-AXB") == [f"{prefix}-axb"]


# -- answer shapes -------------------------------------------------------------------------------


def test_healthz_has_commit_sha_and_tag_name(client: kfp.Client, server: EmbeddedKfpServer) -> None:
    """``newHealthzResponse`` (``apiserver/main.go``): ``commit_sha``, ``tag_name``, ``multi_user``,
    ``pipeline_store`` (kfp_server_api 2.17 models only the last two, so raw HTTP for the rest)."""
    health = client.get_kfp_healthz()
    assert (health.multi_user, health.pipeline_store) == (False, "database")
    with urllib.request.urlopen(f"{server.url}/apis/v2beta1/healthz", timeout=10) as answer:
        body = json.loads(answer.read())
    assert body == {
        "commit_sha": "embedded-simulator",
        "tag_name": "embedded-simulator",
        "multi_user": False,
        "pipeline_store": "database",
    }


def test_error_bodies_are_google_rpc_status_with_a_status_detail(client: kfp.Client) -> None:
    """``UserError.GRPCStatus`` adds one ``google.rpc.Status`` detail that grpc-gateway writes with its type."""
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.get_run(str(uuid.uuid4()))
    body = api_error(caught)
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == 5
    assert body["details"] == [
        {"@type": "type.googleapis.com/google.rpc.Status", "code": 5, "message": body["message"]}
    ]


def test_upload_errors_have_the_upload_servers_own_shape(client: kfp.Client) -> None:
    """``PipelineUploadServer.writeErrorToResponse`` answers ``{"error_message", "error_details"}``."""
    name = unique("dup")
    client.upload_pipeline(str(PIPELINE), pipeline_name=name)
    with pytest.raises(kfp_server_api.ApiException) as caught:
        client.upload_pipeline(str(PIPELINE), pipeline_name=name)
    assert caught.value.status == 409
    assert set(api_error(caught)) == {"error_message", "error_details"}


def test_admin_info_says_list_latency_is_flat_here(server: EmbeddedKfpServer) -> None:
    """The data for the report's table-size note: the simulator's lists do not slow down with the table."""
    with urllib.request.urlopen(f"{server.url}/_admin/info", timeout=10) as answer:
        info = json.loads(answer.read())
    assert info["list_latency_grows_with_table_size"] is False
    assert "not of KFP" in info["table_size_note"]


def test_paging_by_name_follows_the_case_insensitive_order(client: kfp.Client) -> None:
    """Keyset pages (``Options.AddSortingToSelect``: sort value, then id) in the collation's order."""
    prefix = unique("Page")
    names = [f"{prefix}-{suffix}" for suffix in ("b", "A", "c", "B2", "a1")]
    for name in names:
        client.create_experiment(name)
    substring = _filter("display_name", 9, prefix)
    seen: list[str] = []
    token = ""
    while True:
        page = client.list_experiments(filter=substring, sort_by="name", page_size=2, page_token=token)
        seen += [e.display_name for e in page.experiments]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(names, key=str.lower)
