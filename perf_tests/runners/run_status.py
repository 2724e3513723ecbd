"""Creating and polling runs on the runner's event loop, without building kfp_server_api models.

``kfp.Client.get_run`` deserialises the whole run, pipeline spec and task details included, into
kfp_server_api models: about 2.5 ms of CPU per call against 0.7 ms for the same request read as JSON
(bench/RESULTS.md), and ``run_pipeline`` does the same with the run it created. A runner tracking a
thousand runs makes hundreds of these calls a second, so ``RunApi`` sends them over an aiohttp session
configured like the kfp client (auth headers, TLS, timeout; ``perf_tests.load.http.kfp_session``), with
the request body the kfp client builds, and keeps only the fields polling uses, validated by pydantic's
compiled JSON parser. On the loop, not on a thread: a call on a thread of a CPU-bound client waits for
the GIL while it is timed (1,000 runs: get_run recorded 1.5 ms over the server's own time at p50 that
way, bench/RESULTS.md).

Each call fills in an ``Exchange``: when the request was handed to aiohttp and when the answer's last
bytes came off the socket (the session's reads are stamped, ``perf_tests.load.exchange``). That span is
the API's latency as a load tool reports it; waking the task once the loop gets round to the answer and
parsing it are the harness's time, which the runner records apart (``harness_delay``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp.payload import BytesPayload
from pydantic import BaseModel, ConfigDict
from yarl import URL

from perf_tests.load.exchange import Exchange, read_at, stamp_reads
from perf_tests.load.http import HttpStatusError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["CreatedRun", "PolledRun", "RunApi", "RunBody"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


AnswerT = TypeVar("AnswerT", bound=_Model)


class RunStatusEntry(_Model):
    """One entry of ``state_history``."""

    state: str | None = None
    update_time: datetime | None = None


class RunError(_Model):
    """A run's ``error`` (a google.rpc.Status)."""

    code: int | None = None
    message: str | None = None


class CreatedRun(_Model):
    """What the runner reads from a ``create_run`` answer: the new run's id (the rest it learns by polling)."""

    run_id: str


class PolledRun(_Model):
    """The fields of a KFP v2beta1 run that polling uses (same names as ``V2beta1Run``'s)."""

    run_id: str
    state: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    state_history: list[RunStatusEntry] | None = None
    error: RunError | None = None


def _run_body(client: Any, *, experiment_id: str | None, job_name: str, params: dict[str, Any] | None,
              pipeline_id: str | None, version_id: str | None, enable_caching: bool | None) -> Any:
    """The ``V2beta1Run`` that ``client.run_pipeline`` sends for a pipeline version."""
    import kfp_server_api

    config = client._create_job_config(
        params=params, pipeline_package_path=None, pipeline_id=pipeline_id, version_id=version_id,
        enable_caching=enable_caching, cache_key=None, pipeline_root=None,
    )
    return kfp_server_api.V2beta1Run(
        experiment_id=experiment_id,
        display_name=job_name,
        pipeline_spec=config.pipeline_spec,
        pipeline_version_reference=config.pipeline_version_reference,
        runtime_config=config.runtime_config,
    )


class RunBody:
    """A ``create_run`` body encoded once (kfp's body for one pipeline version and experiment), each run's
    ``display_name`` spliced in as bytes: no JSON encoding of the template per run."""

    __slots__ = ("_head", "_tail")

    def __init__(self, fields: dict[str, Any]) -> None:
        rest = json.dumps({k: v for k, v in fields.items() if k != "display_name"}, separators=(",", ":"))
        self._head = b'{"display_name":'
        self._tail = b"}" if rest == "{}" else b"," + rest[1:].encode()

    def named(self, name: str) -> bytes:
        """The body for a run called ``name``."""
        return b"".join((self._head, json.dumps(name).encode(), self._tail))


class RunApi:
    """``create_run`` and ``get_run`` of the KFP v2beta1 API on the caller's event loop.

    ``client`` (a real ``kfp.Client`` for the same target) only builds request bodies; ``session`` (whose
    connections are made to stamp their reads with ``clock``) sends them. An answer with status >= 300
    raises ``HttpStatusError`` (classified as ``http_<status>``, as kfp's ``ApiException`` is); aiohttp's
    errors propagate for connection failures and timeouts. Either way the ``exchange`` given has the
    times known by then.
    """

    def __init__(self, session: aiohttp.ClientSession, base_url: str, client: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        stamp_reads(session, clock)
        self._session = session
        self._clock = clock
        self._runs_text = base_url.rstrip("/") + "/apis/v2beta1/runs"
        self._runs = URL(self._runs_text)
        self._client = client
        self._serialize = client._run_api.api_client.sanitize_for_serialization

    async def get(self, run_id: str, exchange: Exchange | None = None) -> PolledRun:
        """``GET /apis/v2beta1/runs/{run_id}``: the fields polling uses."""
        times = Exchange() if exchange is None else exchange
        times.sent_at = self._clock()
        async with self._session.get(f"{self._runs_text}/{run_id}", allow_redirects=False) as response:
            body = await response.read()
            times.read_at = _read_time(response, self._clock)
        return _polled(response.status, response.reason, body, PolledRun)

    def run_body(self, *, experiment_id: str | None, params: dict[str, Any] | None, pipeline_id: str | None,
                 version_id: str | None, enable_caching: bool | None = None) -> RunBody:
        """The JSON body ``kfp.Client.run_pipeline`` sends for a run of a pipeline version, encoded once
        (``RunBody.named`` gives each run's; built before the call is timed: it is the client's work, not
        the target's)."""
        return RunBody(self._serialize(_run_body(
            self._client, experiment_id=experiment_id, job_name="", params=params,
            pipeline_id=pipeline_id, version_id=version_id, enable_caching=enable_caching,
        )))

    async def create(self, body: bytes, exchange: Exchange | None = None) -> CreatedRun:
        """``POST /apis/v2beta1/runs`` with a body from ``RunBody.named``; the new run's id."""
        times = Exchange() if exchange is None else exchange
        data = BytesPayload(body, content_type="application/json")
        times.sent_at = self._clock()
        async with self._session.post(self._runs, data=data, allow_redirects=False) as response:
            answer = await response.read()
            times.read_at = _read_time(response, self._clock)
        return _polled(response.status, response.reason, answer, CreatedRun)


def _read_time(response: aiohttp.ClientResponse, clock: Callable[[], float]) -> float:
    stamp = read_at(response)
    return clock() if stamp is None else stamp


def _polled(status: int, reason: str | None, body: bytes, model: type[AnswerT]) -> AnswerT:
    if status >= 300:
        raise HttpStatusError(status, reason or "", body)
    return model.model_validate_json(body)
