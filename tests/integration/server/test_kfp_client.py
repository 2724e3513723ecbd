"""The real kfp.Client (kfp 2.17) against the embedded simulator, over HTTP on loopback."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import kfp
import kfp_server_api
import pytest
import yaml

from perf_tests.server import TARGET_HEADER, TARGET_NAME, EmbeddedKfpServer

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"
TASK_NAMES = ["add-a-b", "double", "add-b-again"]
T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Call ``fetch`` until ``done(result)``; fail with the last result at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout} s; last result: {result!r}")
        time.sleep(interval)


def name_filter(key: str, value: str) -> str:
    return json.dumps({"predicates": [{"operation": 1, "key": key, "string_value": value}]})


def test_construction_reads_healthz_of_the_simulator(kfp_client: kfp.Client) -> None:
    health = kfp_client.get_kfp_healthz()
    assert health.multi_user is False
    assert health.pipeline_store == "database"
    last = kfp_client._healthz_api.api_client.last_response
    assert last.getheader(TARGET_HEADER) == TARGET_NAME


def test_upload_pipeline_then_find_it_by_name(kfp_client: kfp.Client) -> None:
    name = unique("add-numbers")
    pipeline = kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=name, description="adds")
    assert pipeline.display_name == name
    assert pipeline.description == "adds"
    assert pipeline.created_at is not None
    assert kfp_client.get_pipeline_id(name) == pipeline.pipeline_id
    assert kfp_client.get_pipeline_id(unique("missing")) is None
    assert kfp_client.get_pipeline(pipeline.pipeline_id).display_name == name

    versions = kfp_client.list_pipeline_versions(pipeline.pipeline_id)
    assert versions.total_size == 1
    version = versions.pipeline_versions[0]
    assert version.pipeline_id == pipeline.pipeline_id
    assert version.pipeline_spec["pipelineInfo"]["name"] == "add-numbers"
    assert set(version.pipeline_spec["root"]["dag"]["tasks"]) == {"add", "double", "add-2"}
    fetched = kfp_client.get_pipeline_version(pipeline.pipeline_id, version.pipeline_version_id)
    assert fetched.display_name == name


def test_upload_duplicate_pipeline_name_is_a_conflict(kfp_client: kfp.Client) -> None:
    name = unique("dup")
    kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=name)
    with pytest.raises(kfp_server_api.ApiException) as caught:
        kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=name)
    assert caught.value.status == 409
    body = json.loads(caught.value.body)  # the upload endpoint's own shape (writeErrorToResponse)
    assert "already exists" in body["error_message"]


def test_upload_pipeline_version_and_list_versions_newest_first(kfp_client: kfp.Client) -> None:
    pipeline = kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=unique("versions"))
    v2 = kfp_client.upload_pipeline_version(str(PIPELINE), "v2", pipeline_id=pipeline.pipeline_id)
    assert v2.pipeline_id == pipeline.pipeline_id
    assert v2.display_name == "v2"
    listed = kfp_client.list_pipeline_versions(pipeline.pipeline_id, sort_by="created_at desc")
    assert listed.total_size == 2
    # Whole-second created_at: versions of one second are ordered by id (Options.AddSortingToSelect).
    expected = sorted(listed.pipeline_versions, key=lambda v: (v.created_at, v.pipeline_version_id), reverse=True)
    assert [v.pipeline_version_id for v in listed.pipeline_versions] == [v.pipeline_version_id for v in expected]
    assert {v.display_name for v in listed.pipeline_versions} == {"v2", pipeline.display_name}
    by_name = kfp_client.upload_pipeline_version(str(PIPELINE), "v3", pipeline_name=pipeline.display_name)
    assert by_name.pipeline_id == pipeline.pipeline_id


def test_create_experiment_is_idempotent_by_name(kfp_client: kfp.Client) -> None:
    name = unique("exp")
    first = kfp_client.create_experiment(name, description="perf")
    second = kfp_client.create_experiment(name)
    assert first.experiment_id == second.experiment_id
    assert first.description == "perf"
    assert first.storage_state == "AVAILABLE"
    by_name = kfp_client.get_experiment(experiment_name=name)
    assert by_name.experiment_id == first.experiment_id
    assert kfp_client.get_experiment(experiment_id=first.experiment_id).display_name == name
    with pytest.raises(ValueError, match="No experiment is found"):
        kfp_client.get_experiment(experiment_name=unique("missing"))


def test_run_from_package_in_an_experiment_succeeds(kfp_client: kfp.Client) -> None:
    experiment = kfp_client.create_experiment(unique("exp"))
    result = kfp_client.create_run_from_pipeline_package(
        str(PIPELINE), arguments={"a": 3, "b": 4}, run_name="sum", experiment_id=experiment.experiment_id
    )
    assert result.run_info.state == "PENDING"
    assert result.run_info.experiment_id == experiment.experiment_id

    run = kfp_client.wait_for_run_completion(result.run_id, timeout=20, sleep_duration=0.02)

    assert run.state == "SUCCEEDED"
    assert run.display_name == "sum"
    assert run.runtime_config.parameters == {"a": 3, "b": 4}
    assert run.pipeline_spec["pipelineInfo"]["name"] == "add-numbers"
    assert run.service_account == "pipeline-runner"
    assert [h.state for h in run.state_history] == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert run.created_at <= run.state_history[1].update_time <= run.finished_at
    assert run.finished_at == run.state_history[-1].update_time
    assert [t.display_name for t in run.run_details.task_details] == TASK_NAMES
    assert {t.state for t in run.run_details.task_details} == {"SUCCEEDED"}
    assert kfp_client.get_experiment(experiment_id=experiment.experiment_id).last_run_created_at == run.created_at


def test_run_without_experiment_goes_to_default(kfp_client: kfp.Client) -> None:
    result = kfp_client.create_run_from_pipeline_package(str(PIPELINE), run_name=unique("no-exp"))
    default = kfp_client.get_experiment(experiment_name="Default")
    assert result.run_info.experiment_id == default.experiment_id


def test_run_pipeline_with_a_pipeline_version(kfp_client: kfp.Client) -> None:
    pipeline = kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=unique("by-version"))
    version = kfp_client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    experiment = kfp_client.create_experiment(unique("exp"))
    run = kfp_client.run_pipeline(
        experiment.experiment_id,
        "from-version",
        pipeline_id=pipeline.pipeline_id,
        version_id=version.pipeline_version_id,
        params={"a": 10},
    )
    assert run.pipeline_version_reference.pipeline_id == pipeline.pipeline_id
    assert run.pipeline_version_reference.pipeline_version_id == version.pipeline_version_id
    assert run.pipeline_spec is None
    finished = kfp_client.wait_for_run_completion(run.run_id, timeout=20, sleep_duration=0.02)
    assert finished.state == "SUCCEEDED"
    assert finished.runtime_config.parameters == {"a": 10}


def test_list_runs_pages_and_sorts(kfp_client: kfp.Client) -> None:
    """Whole-second ``created_at`` (``toApiRun``), ties broken by run id: ``Options.AddSortingToSelect`` orders
    by the sort field, then ``UUID``, both in the requested direction."""
    experiment = kfp_client.create_experiment(unique("paging"))
    names = [f"run-{i}" for i in range(5)]
    created = []
    for name in names:
        result = kfp_client.create_run_from_pipeline_package(
            str(PIPELINE), run_name=name, experiment_id=experiment.experiment_id
        )
        run = kfp_client.get_run(result.run_id)
        created.append((run.created_at, run.run_id, name))
    expected = [name for *_, name in sorted(created, reverse=True)]

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = kfp_client.list_runs(
            experiment_id=experiment.experiment_id, page_size=2, sort_by="created_at desc", page_token=token
        )
        assert page.total_size == 5
        seen += [r.display_name for r in page.runs]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == expected

    by_name = kfp_client.list_runs(experiment_id=experiment.experiment_id, sort_by="name desc", page_size=10)
    assert [r.display_name for r in by_name.runs] == sorted(names, reverse=True)
    filtered = kfp_client.list_runs(experiment_id=experiment.experiment_id, filter=name_filter("display_name", "run-3"))
    assert [r.display_name for r in filtered.runs] == ["run-3"]
    assert filtered.total_size == 1


def test_list_runs_filters_by_state(kfp_client: kfp.Client) -> None:
    experiment = kfp_client.create_experiment(unique("states"))
    run = kfp_client.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)
    kfp_client.wait_for_run_completion(run.run_id, timeout=20, sleep_duration=0.02)
    state_filter = json.dumps({"predicates": [{"operation": "EQUALS", "key": "state", "stringValue": "SUCCEEDED"}]})
    listed = kfp_client.list_runs(experiment_id=experiment.experiment_id, filter=state_filter)
    assert [r.run_id for r in listed.runs] == [run.run_id]
    running = json.dumps({"predicates": [{"operation": 1, "key": "state", "string_value": "RUNNING"}]})
    assert kfp_client.list_runs(experiment_id=experiment.experiment_id, filter=running).runs is None


def test_terminate_run_cancels_it(fresh_kfp_server: EmbeddedKfpServer, fresh_kfp_client: kfp.Client) -> None:
    fresh_kfp_server.configure(task_seconds=30)
    run = fresh_kfp_client.create_run_from_pipeline_package(str(PIPELINE), run_name="long")
    fresh_kfp_client.terminate_run(run.run_id)
    assert fresh_kfp_client.get_run(run.run_id).state in ("CANCELING", "CANCELED")
    canceled = poll(lambda: fresh_kfp_client.get_run(run.run_id), lambda r: r.state == "CANCELED")
    assert [h.state for h in canceled.state_history][-2:] == ["CANCELING", "CANCELED"]
    assert canceled.finished_at == canceled.state_history[-1].update_time


def test_retry_failed_run(fresh_kfp_server: EmbeddedKfpServer, fresh_kfp_client: kfp.Client) -> None:
    fresh_kfp_server.configure(run_failure_probability=1.0)
    run = fresh_kfp_client.create_run_from_pipeline_package(str(PIPELINE))
    failed = fresh_kfp_client.wait_for_run_completion(run.run_id, timeout=20, sleep_duration=0.02)
    assert failed.state == "FAILED"
    assert failed.error.message
    assert failed.run_details.task_details[-1].state == "FAILED"

    fresh_kfp_server.configure(run_failure_probability=0.0)
    fresh_kfp_client._run_api.run_service_retry_run(run.run_id)
    retried = poll(lambda: fresh_kfp_client.get_run(run.run_id), lambda r: r.state == "SUCCEEDED")
    states = [h.state for h in retried.state_history]
    assert states[: states.index("FAILED") + 1][-1] == "FAILED"
    assert states[-1] == "SUCCEEDED"


def test_archive_and_unarchive(kfp_client: kfp.Client) -> None:
    experiment = kfp_client.create_experiment(unique("archive"))
    run = kfp_client.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)
    kfp_client.archive_run(run.run_id)
    assert kfp_client.get_run(run.run_id).storage_state == "ARCHIVED"
    kfp_client.unarchive_run(run.run_id)
    assert kfp_client.get_run(run.run_id).storage_state == "AVAILABLE"
    kfp_client.archive_experiment(experiment.experiment_id)
    assert kfp_client.get_experiment(experiment_id=experiment.experiment_id).storage_state == "ARCHIVED"
    assert kfp_client.get_run(run.run_id).storage_state == "ARCHIVED"
    kfp_client.unarchive_experiment(experiment.experiment_id)
    assert kfp_client.get_experiment(experiment_id=experiment.experiment_id).storage_state == "AVAILABLE"


def test_delete_run_version_pipeline_and_experiment(kfp_client: kfp.Client) -> None:
    experiment = kfp_client.create_experiment(unique("delete"))
    pipeline = kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=unique("delete"))
    version = kfp_client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    run = kfp_client.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)

    assert kfp_client.delete_run(run.run_id) == {}
    with pytest.raises(kfp_server_api.ApiException) as caught:
        kfp_client.get_run(run.run_id)
    assert caught.value.status == 404

    with pytest.raises(kfp_server_api.ApiException) as refused:
        kfp_client.delete_pipeline(pipeline.pipeline_id)  # still has its version, like the real server
    assert refused.value.status == 400
    kfp_client.delete_pipeline_version(pipeline.pipeline_id, version.pipeline_version_id)
    kfp_client.delete_pipeline(pipeline.pipeline_id)
    assert kfp_client.get_pipeline_id(pipeline.display_name) is None

    kfp_client.delete_experiment(experiment.experiment_id)
    with pytest.raises(kfp_server_api.ApiException) as gone:
        kfp_client.get_experiment(experiment_id=experiment.experiment_id)
    assert gone.value.status == 404


def test_periodic_recurring_run_fires_runs(kfp_client: kfp.Client) -> None:
    experiment = kfp_client.create_experiment(unique("recurring"))
    recurring = kfp_client.create_recurring_run(
        experiment.experiment_id,
        "every-second",
        interval_second=1,
        pipeline_package_path=str(PIPELINE),
        params={"a": 5},
    )
    assert recurring.status == "ENABLED"
    assert recurring.trigger.periodic_schedule.interval_second == "1"
    assert recurring.max_concurrency == "1"
    by_recurring = name_filter("recurring_run_id", recurring.recurring_run_id)

    fired = poll(
        lambda: kfp_client.list_runs(experiment_id=experiment.experiment_id, filter=by_recurring, page_size=50),
        lambda page: (page.total_size or 0) >= 2,
    )
    for run in fired.runs:
        assert run.recurring_run_id == recurring.recurring_run_id
        assert run.runtime_config.parameters == {"a": 5}
        assert run.display_name.startswith("every-second-")

    kfp_client.disable_recurring_run(recurring.recurring_run_id)
    assert kfp_client.get_recurring_run(recurring.recurring_run_id).status == "DISABLED"
    kfp_client.delete_recurring_run(recurring.recurring_run_id)
    with pytest.raises(kfp_server_api.ApiException) as caught:
        kfp_client.get_recurring_run(recurring.recurring_run_id)
    assert caught.value.status == 404


def test_cron_recurring_run_from_pipeline_version_fires(kfp_client: kfp.Client) -> None:
    pipeline = kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=unique("cron"))
    version = kfp_client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    experiment = kfp_client.create_experiment(unique("cron"))
    recurring = kfp_client.create_recurring_run(
        experiment.experiment_id,
        "cron",
        cron_expression="* * * * * *",
        pipeline_id=pipeline.pipeline_id,
        version_id=version.pipeline_version_id,
        max_concurrency=2,
    )
    assert recurring.trigger.cron_schedule.cron == "* * * * * *"
    listed = kfp_client.list_recurring_runs(experiment_id=experiment.experiment_id)
    assert [r.recurring_run_id for r in listed.recurring_runs] == [recurring.recurring_run_id]

    page = poll(
        lambda: kfp_client.list_runs(experiment_id=experiment.experiment_id),
        lambda p: (p.total_size or 0) >= 1,
    )
    first = page.runs[0]
    assert first.pipeline_version_reference.pipeline_version_id == version.pipeline_version_id
    assert first.scheduled_at.microsecond == 0  # cron fire times are whole seconds
    kfp_client.delete_recurring_run(recurring.recurring_run_id)


def test_disabled_recurring_run_does_not_fire_until_enabled(kfp_client: kfp.Client) -> None:
    experiment = kfp_client.create_experiment(unique("disabled"))
    recurring = kfp_client.create_recurring_run(
        experiment.experiment_id,
        "off",
        interval_second=1,
        pipeline_package_path=str(PIPELINE),
        enabled=False,
    )
    assert recurring.status == "DISABLED"
    assert kfp_client.list_runs(experiment_id=experiment.experiment_id).runs is None
    kfp_client.enable_recurring_run(recurring.recurring_run_id)
    poll(
        lambda: kfp_client.list_runs(experiment_id=experiment.experiment_id),
        lambda p: (p.total_size or 0) >= 1,
    )
    kfp_client.delete_recurring_run(recurring.recurring_run_id)


def test_lists_of_experiments_and_pipelines_filter_and_page(kfp_client: kfp.Client) -> None:
    prefix = unique("listing")
    for i in range(3):
        kfp_client.create_experiment(f"{prefix}-{i}")
    substring = json.dumps({"predicates": [{"operation": 9, "key": "display_name", "string_value": prefix}]})
    first = kfp_client.list_experiments(filter=substring, page_size=2, sort_by="name")
    assert [e.display_name for e in first.experiments] == [f"{prefix}-0", f"{prefix}-1"]
    assert first.total_size == 3
    rest = kfp_client.list_experiments(page_token=first.next_page_token, page_size=2)
    assert [e.display_name for e in rest.experiments] == [f"{prefix}-2"]
    assert rest.next_page_token is None

    names = [f"{prefix}-p{i}" for i in range(2)]
    for name in names:
        kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=name)
    in_filter = json.dumps({"predicates": [{"operation": 8, "key": "name", "string_values": {"values": names}}]})
    pipelines = kfp_client.list_pipelines(filter=in_filter, sort_by="created_at desc")
    # Whole-second created_at; ties go by id, in the sort's direction (Options.AddSortingToSelect).
    expected = sorted(pipelines.pipelines, key=lambda p: (p.created_at, p.pipeline_id), reverse=True)
    assert [p.pipeline_id for p in pipelines.pipelines] == [p.pipeline_id for p in expected]
    assert sorted(p.display_name for p in pipelines.pipelines) == names


def test_uploaded_spec_round_trips_camel_case(kfp_client: kfp.Client) -> None:
    pipeline = kfp_client.upload_pipeline(str(PIPELINE), pipeline_name=unique("spec"))
    version = kfp_client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    original: dict[str, Any] = yaml.safe_load(PIPELINE.read_text())
    assert version.pipeline_spec == original
