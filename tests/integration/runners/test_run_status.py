"""fetch_run reads the fields polling needs from the raw get_run answer, as kfp's get_run has them."""

from __future__ import annotations

import time

import kfp
import kfp_server_api
import pytest

from perf_tests.runners.run_status import PolledRun, fetch_run, submit_run

PIPELINE = "test_data/pipeline_files/add_numbers.yaml"


@pytest.fixture
def client(fresh_kfp_server):
    client = kfp.Client(host=fresh_kfp_server.url)
    yield client
    client._run_api.api_client.rest_client.pool_manager.clear()


def test_fetch_run_agrees_with_kfp_get_run(client, fresh_kfp_server):
    fresh_kfp_server.configure(run_failure_probability=1.0)
    pipeline = client.upload_pipeline(PIPELINE, pipeline_name="status-check")
    version = client.list_pipeline_versions(pipeline_id=pipeline.pipeline_id).pipeline_versions[0]
    experiment = client.create_experiment(name="Default")
    run = client.run_pipeline(experiment_id=experiment.experiment_id, job_name="s", pipeline_id=pipeline.pipeline_id,
                              version_id=version.pipeline_version_id)
    deadline = time.monotonic() + 10
    while fetch_run(client, run.run_id).state not in ("FAILED", "SUCCEEDED") and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the simulator until the run ends is the behaviour under test
    polled, full = fetch_run(client, run.run_id), client.get_run(run.run_id)
    assert polled.state == "FAILED" and polled.error is not None and polled.error.message
    assert polled == PolledRun.model_validate(full, from_attributes=True)
    assert [s.state for s in polled.state_history or []] == ["PENDING", "RUNNING", "FAILED"]
    assert polled.created_at == full.created_at and polled.finished_at == full.finished_at


def test_fetch_run_raises_what_get_run_raises(client):
    with pytest.raises(kfp_server_api.ApiException) as caught:
        fetch_run(client, "no-such-run")
    assert caught.value.status == 404


def test_submit_run_sends_what_run_pipeline_sends(client):
    pipeline = client.upload_pipeline(PIPELINE, pipeline_name="submit-check")
    version = client.list_pipeline_versions(pipeline_id=pipeline.pipeline_id).pipeline_versions[0]
    experiment = client.create_experiment(name="Default")
    fields = {"experiment_id": experiment.experiment_id, "params": {"a": 1, "b": 2},
              "pipeline_id": pipeline.pipeline_id, "version_id": version.pipeline_version_id, "enable_caching": False}
    ours = submit_run(client, job_name="ours", **fields)
    theirs = client.run_pipeline(job_name="theirs", **fields)
    mine, kfps = client.get_run(ours.run_id), client.get_run(theirs.run_id)
    for field in ("experiment_id", "pipeline_version_reference", "runtime_config", "service_account"):
        assert getattr(mine, field) == getattr(kfps, field), field
    assert mine.display_name == "ours"
