"""RunApi reads the fields polling needs from the raw answers, as kfp's get_run has them, and sends the
body kfp's run_pipeline sends."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import kfp
import pytest

from perf_tests.config.settings import AuthSettings, ConnectionSettings
from perf_tests.load.http import HttpStatusError, kfp_session
from perf_tests.recorder.failures import classify_exception
from perf_tests.runners.run_status import CreatedRun, PolledRun, RunApi
from perf_tests.targets.kfp_target import KfpTarget

PIPELINE = "test_data/pipeline_files/add_numbers.yaml"
T = TypeVar("T")


@pytest.fixture
def client(fresh_kfp_server):
    client = kfp.Client(host=fresh_kfp_server.url)
    yield client
    client._run_api.api_client.rest_client.pool_manager.clear()


def on_loop(server: Any, client: Any, work: Callable[[RunApi], Awaitable[T]]) -> T:
    target = KfpTarget(url=server.url, kind="embedded", connection=ConnectionSettings(), auth=AuthSettings())

    async def main() -> T:
        async with kfp_session(target, 2) as session:
            return await work(RunApi(session, target.url, client))

    return asyncio.run(main())


def version_run_fields(client: Any) -> dict[str, Any]:
    pipeline = client.upload_pipeline(PIPELINE, pipeline_name=f"status-{time.time_ns()}")
    version = client.list_pipeline_versions(pipeline_id=pipeline.pipeline_id).pipeline_versions[0]
    experiment = client.create_experiment(name="Default")
    return {"experiment_id": experiment.experiment_id, "pipeline_id": pipeline.pipeline_id,
            "version_id": version.pipeline_version_id}


def test_get_agrees_with_kfp_get_run(client, fresh_kfp_server):
    fresh_kfp_server.configure(run_failure_probability=1.0)
    run = client.run_pipeline(job_name="s", **version_run_fields(client))

    async def poll_to_the_end(api: RunApi) -> PolledRun:
        deadline = time.monotonic() + 10
        # polling the simulator until the run ends is the behaviour under test
        while (await api.get(run.run_id)).state not in ("FAILED", "SUCCEEDED") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return await api.get(run.run_id)

    polled = on_loop(fresh_kfp_server, client, poll_to_the_end)
    full = client.get_run(run.run_id)
    assert polled.state == "FAILED" and polled.error is not None and polled.error.message
    assert polled == PolledRun.model_validate(full, from_attributes=True)
    assert [s.state for s in polled.state_history or []] == ["PENDING", "RUNNING", "FAILED"]
    assert polled.created_at == full.created_at and polled.finished_at == full.finished_at


def test_an_unknown_run_is_http_404_as_kfp_reports_it(client, fresh_kfp_server):
    async def get_missing(api: RunApi) -> HttpStatusError:
        try:
            await api.get("no-such-run")
        except HttpStatusError as exc:
            return exc
        raise AssertionError("a missing run was answered")

    error = on_loop(fresh_kfp_server, client, get_missing)
    assert error.status == 404
    error_type, message = classify_exception(error)
    assert error_type == "http_404" and "no-such-run" in message


def test_create_sends_what_run_pipeline_sends(client, fresh_kfp_server):
    fields = {**version_run_fields(client), "params": {"a": 1, "b": 2}, "enable_caching": False}

    async def create(api: RunApi) -> CreatedRun:
        return await api.create(api.run_body(**fields).named("ours"))

    ours = on_loop(fresh_kfp_server, client, create)
    theirs = client.run_pipeline(job_name="theirs", **fields)
    mine, kfps = client.get_run(ours.run_id), client.get_run(theirs.run_id)
    for field in ("experiment_id", "pipeline_version_reference", "runtime_config", "service_account"):
        assert getattr(mine, field) == getattr(kfps, field), field
    assert mine.display_name == "ours"


def test_each_call_fills_in_its_exchange_even_when_it_fails(client, fresh_kfp_server):
    from perf_tests.load.exchange import Exchange

    fields = version_run_fields(client)

    async def calls(api: RunApi) -> tuple[list[Exchange], list[float]]:
        exchanges = [Exchange(), Exchange(), Exchange()]
        bounds = [time.monotonic()]
        body = api.run_body(params=None, **fields).named("exchanged")
        created = await api.create(body, exchanges[0])
        bounds.append(time.monotonic())
        await api.get(created.run_id, exchanges[1])
        bounds.append(time.monotonic())
        with pytest.raises(HttpStatusError):
            await api.get("no-such-run", exchanges[2])
        bounds.append(time.monotonic())
        return exchanges, bounds

    exchanges, bounds = on_loop(fresh_kfp_server, client, calls)
    # Each exchange lies within its call (RunApi's clock is time.monotonic by default); the answer's last
    # byte read is stamped by the connection, not taken after the answer was parsed.
    for exchange, (before, after) in zip(exchanges, itertools.pairwise(bounds), strict=True):
        assert exchange.sent_at is not None and exchange.read_at is not None
        assert before <= exchange.sent_at <= exchange.read_at <= after
