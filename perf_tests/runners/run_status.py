"""Creating and polling runs through the kfp client without building kfp_server_api models of the answers.

``kfp.Client.get_run`` deserialises the whole run, pipeline spec and task details included, into
kfp_server_api models: about 2.5 ms of CPU per call against 0.7 ms for the same request read as JSON
(bench/RESULTS.md), and ``run_pipeline`` does the same with the run it created. A runner tracking a
thousand runs makes hundreds of these calls a second, so they go through the same client (same
connection pool, auth, TLS, timeout and errors; ``run_pipeline``'s own request body) but keep only the
fields they use, validated by pydantic's compiled JSON parser.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["PolledRun", "fetch_run", "submit_run"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RunStatusEntry(_Model):
    """One entry of ``state_history``."""

    state: str | None = None
    update_time: datetime | None = None


class RunError(_Model):
    """A run's ``error`` (a google.rpc.Status)."""

    code: int | None = None
    message: str | None = None


class PolledRun(_Model):
    """The fields of a KFP v2beta1 run that polling uses (same names as ``V2beta1Run``'s)."""

    run_id: str
    state: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    state_history: list[RunStatusEntry] | None = None
    error: RunError | None = None


def _read(response: Any) -> PolledRun:
    try:
        data = response.data
    finally:
        response.release_conn()
    return PolledRun.model_validate_json(data)


def submit_run(client: Any, *, experiment_id: str | None, job_name: str, params: dict[str, Any] | None,
               pipeline_id: str | None, version_id: str | None, enable_caching: bool | None = None) -> PolledRun:
    """``client.run_pipeline`` of a pipeline version: the same request body, the answer read as JSON.

    A client without the generated run API falls back to ``client.run_pipeline``.
    """
    api = getattr(client, "_run_api", None)
    make_config = getattr(client, "_create_job_config", None)
    if api is None or make_config is None:
        run = client.run_pipeline(experiment_id=experiment_id, job_name=job_name, params=params,
                                  pipeline_id=pipeline_id, version_id=version_id, enable_caching=enable_caching)
        return PolledRun.model_validate(run, from_attributes=True)
    import kfp_server_api

    config = make_config(params=params, pipeline_package_path=None, pipeline_id=pipeline_id, version_id=version_id,
                         enable_caching=enable_caching, cache_key=None, pipeline_root=None)
    body = kfp_server_api.V2beta1Run(
        experiment_id=experiment_id,
        display_name=job_name,
        pipeline_spec=config.pipeline_spec,
        pipeline_version_reference=config.pipeline_version_reference,
        runtime_config=config.runtime_config,
    )
    return _read(api.run_service_create_run(run=body, _preload_content=False))


def fetch_run(client: Any, run_id: str) -> PolledRun:
    """``get_run`` through the client's own API object, without building its models.

    Raises what ``client.get_run`` raises (``kfp_server_api.ApiException`` for an HTTP error, urllib3's
    errors for a connection failure or timeout). A client without the generated run API falls back to
    ``client.get_run``.
    """
    api = getattr(client, "_run_api", None)
    if api is None:
        return PolledRun.model_validate(client.get_run(run_id), from_attributes=True)
    return _read(api.run_service_get_run(run_id=run_id, _preload_content=False))
