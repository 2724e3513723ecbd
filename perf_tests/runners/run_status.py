"""A run's status as a poll needs it, read from the raw ``get_run`` answer.

``kfp.Client.get_run`` deserialises the whole run, pipeline spec and task details included, into
kfp_server_api models: about 2.5 ms of CPU per call against 0.7 ms for the same request read as JSON
(bench/RESULTS.md). A runner tracking a thousand runs polls hundreds of times a second, so its polls
go through the same client (same connection pool, auth, TLS, timeout and errors) but keep only the
fields they use, validated by pydantic's compiled JSON parser.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["PolledRun", "fetch_run"]


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


def fetch_run(client: Any, run_id: str) -> PolledRun:
    """``get_run`` through the client's own API object, without building its models.

    Raises what ``client.get_run`` raises (``kfp_server_api.ApiException`` for an HTTP error, urllib3's
    errors for a connection failure or timeout). A client without the generated run API falls back to
    ``client.get_run``.
    """
    api = getattr(client, "_run_api", None)
    if api is None:
        return PolledRun.model_validate(client.get_run(run_id), from_attributes=True)
    response = api.run_service_get_run(run_id=run_id, _preload_content=False)
    try:
        data = response.data
    finally:
        response.release_conn()
    return PolledRun.model_validate_json(data)
