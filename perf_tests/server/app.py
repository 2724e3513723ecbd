"""The HTTP side of the simulator: routes, fault injection, request counting, admin endpoints.

A low-level aiohttp server (:class:`aiohttp.web.Server`) calls :meth:`KfpSimulatorApp.handle` for
every request; a small table router maps ``/apis/v2beta1/...`` paths (including custom verbs such as
``runs/{run_id}:terminate``) to :class:`~perf_tests.server.service.KfpService` methods. Every answer
is one JSON body with ``Content-Length`` and the ``X-Perf-Tests-Target: embedded-kfp-simulator``
header, written in one send on a ``TCP_NODELAY`` socket, so keep-alive clients see no Nagle stalls.

Admin endpoints (never faulted): ``GET /_admin/info``, ``GET|PUT|PATCH /_admin/config``,
``GET /_admin/stats``, ``POST /_admin/reset``; and ``GET /metrics`` (Prometheus text format, never faulted,
not counted in the request statistics; see :mod:`perf_tests.server.metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from pydantic import ValidationError

from perf_tests import __version__
from perf_tests.server.config import SimulatorConfig
from perf_tests.server.errors import ApiError, GrpcCode
from perf_tests.server.metrics import CONTENT_TYPE, SimulatorMetrics
from perf_tests.server.service import EMPTY, KfpService, Query
from perf_tests.server.stats import RequestStats
from perf_tests.server.store import Store

__all__ = ["API_PREFIX", "SERVER_VERSION", "TABLE_SIZE_NOTE", "TARGET_HEADER", "TARGET_NAME", "KfpSimulatorApp"]

logger = logging.getLogger(__name__)

API_PREFIX = "/apis/v2beta1"
TARGET_HEADER = "X-Perf-Tests-Target"
TARGET_NAME = "embedded-kfp-simulator"
VERSION_HEADER = "X-Perf-Tests-Server-Version"
SERVER_VERSION = "embedded-simulator"
"""What the simulator reports as its version (header and ``/_admin/info``)."""
TABLE_SIZE_NOTE = (
    "On the embedded KFP simulator list latency does not grow with the table: a page is a keyset range scan "
    "of a SQLite index and total_size comes from counters (a 20-run page costs about 0.3 ms of server CPU at "
    "2k and at 100k runs). The real KFP API server answers lists with MySQL queries that join run_details "
    "with resource_references, tasks and metrics, and upstream reports lists of about 15 s at ~94k runs. "
    "A flat line here is a property of the simulator, not of KFP."
)
"""What a report should print beside list latency against table size when the target is the simulator
(also ``GET /_admin/info`` ``table_size_note``, with ``list_latency_grows_with_table_size: false``)."""

_HEADERS = {
    "Content-Type": "application/json",
    TARGET_HEADER: TARGET_NAME,
    VERSION_HEADER: SERVER_VERSION,
}
_HEALTHZ = "GET /apis/v2beta1/healthz"
_GRPC_CODE = web.ResponseKey("grpc_code", GrpcCode)
"""The gRPC code of an error answer, for the metrics."""


@dataclass(frozen=True)
class _Call:
    """What a route handler gets: decoded path parameters, query (empty values dropped), body."""

    params: Mapping[str, str]
    query: Query
    body: bytes


Body = str | bytes
"""An answer's JSON: text, or its UTF-8 bytes (run answers are kept and joined as bytes)."""
Handler = Callable[[_Call], Body]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: tuple[tuple[str, str | None], ...]
    """Each path segment as ``(literal, None)`` or ``("", parameter name)``."""
    verb: str
    name: str
    handler: Handler | None
    upload: Callable[[Query, bytes, str], str] | None = None


class _Router:
    """Matches ``(method, path)`` against KFP path templates like ``runs/{run_id}:terminate``."""

    def __init__(self) -> None:
        self._static: dict[tuple[str, str], _Route] = {}
        self._dynamic: dict[tuple[int, str], list[_Route]] = {}
        self._static_paths: set[str] = set()

    def add(
        self,
        method: str,
        template: str,
        handler: Handler | None = None,
        upload: Callable[[Query, bytes, str], str] | None = None,
    ) -> None:
        path, _, verb = template.partition(":")
        segments = tuple(path.strip("/").split("/"))
        pattern = tuple(("", s[1:-1]) if s.startswith("{") else (s, None) for s in segments)
        route = _Route(method, pattern, verb, f"{method} {API_PREFIX}/{template}", handler, upload)
        if not any(s.startswith("{") for s in segments) and not verb:
            self._static[(method, "/".join(segments))] = route
            self._static_paths.add("/".join(segments))
        else:
            self._dynamic.setdefault((len(segments), verb), []).append(route)

    def match(self, method: str, raw_path: str) -> tuple[_Route | None, dict[str, str], bool]:
        """The route and decoded path parameters; the flag tells a known path with a wrong method."""
        static = self._static.get((method, raw_path))
        if static is not None:
            return static, {}, False
        raw_segments = raw_path.split("/")
        verb = ""
        last = raw_segments[-1]
        if ":" in last:
            last, verb = last.rsplit(":", 1)
            raw_segments[-1] = last
        segments = [unquote(s) if "%" in s else s for s in raw_segments]
        path_known = raw_path in self._static_paths
        for route in self._dynamic.get((len(segments), verb), ()):
            params: dict[str, str] = {}
            for (literal, name), value in zip(route.pattern, segments, strict=True):
                if name is None:
                    if literal != value:
                        break
                elif not value:
                    break
                else:
                    params[name] = value
            else:
                if route.method == method:
                    return route, params, False
                path_known = True
        return None, {}, path_known


class KfpSimulatorApp:
    """One simulated KFP API server: the service, its faults, counters and background scheduler.

    Everything here runs on one event loop; :class:`~perf_tests.server.embedded.EmbeddedKfpServer`
    hops onto that loop for configuration changes and snapshots.
    """

    def __init__(self, store: Store, config: SimulatorConfig, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.stats = RequestStats()
        self.metrics = SimulatorMetrics(self._metrics_snapshot)
        self._fate_rng = random.Random(config.seed)
        self._fault_rng = random.Random(None if config.seed is None else config.seed + 1)
        self._wake: asyncio.Event | None = None
        self._scheduler: asyncio.Task[None] | None = None
        self._hung: set[asyncio.Future[None]] = set()
        self.service = KfpService(store, config, self._fate_rng, clock, on_schedule_change=self._wake_scheduler)
        self._router = self._build_router()

    # -- configuration ---------------------------------------------------------------------------

    def set_config(self, config: SimulatorConfig) -> None:
        """Switch to a new configuration; a changed ``seed`` restarts both random streams."""
        if config.seed != self.config.seed:
            self._fate_rng.seed(config.seed)
            self._fault_rng.seed(None if config.seed is None else config.seed + 1)
        if config.timestamp_precision != self.config.timestamp_precision:
            self.store.answers.clear()  # kept answers hold rendered times
        self.config = config
        self.service.config = config
        self._wake_scheduler()

    def reset(self, *, data: bool = True, stats: bool = True) -> None:
        """Forget all objects (keeping the ``Default`` experiment) and/or the request counters."""
        if data:
            self.store.reset()
            self.service.ensure_default_experiment()
            self._wake_scheduler()
        if stats:
            self.stats.reset()

    def stats_snapshot(self) -> dict[str, Any]:
        """Request counters, object counts and identity, as served by ``GET /_admin/stats``."""
        return {"target": TARGET_NAME, **self.stats.snapshot(), "objects": self.store.counts()}

    def _metrics_snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        return self.store.counts(), self.store.count_runs_by_state(self.clock())

    @staticmethod
    def info() -> dict[str, Any]:
        """Who this server is, as served by ``GET /_admin/info``."""
        return {
            "target": TARGET_NAME,
            "name": "embedded KFP simulator",
            "version": SERVER_VERSION,
            "package_version": __version__,
            "api": "v2beta1",
            "description": "A local simulation of the KFP v2beta1 REST API; no pipelines actually run.",
            "list_latency_grows_with_table_size": False,
            "table_size_note": TABLE_SIZE_NOTE,
        }

    # -- background scheduler --------------------------------------------------------------------

    def _wake_scheduler(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def start_background(self) -> None:
        """Start firing recurring runs (call on the server's loop)."""
        self._wake = asyncio.Event()
        self._scheduler = asyncio.get_running_loop().create_task(self._schedule_loop(), name="kfp-sim-scheduler")

    async def _schedule_loop(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            held_back = False
            try:
                held_back = self.service.fire_due_recurring_runs()
                next_time = self.service.next_fire_time()
            except Exception:
                logger.exception("the embedded KFP simulator failed to fire recurring runs")
                next_time = None
            delay = 1.0 if next_time is None else max(0.0, next_time - self.clock())
            if held_back:
                delay = max(delay, 0.05)
            delay = min(max(delay, 0.002), 1.0)
            # Not asyncio.wait_for: on Python 3.11 it can swallow a cancel that races with the wake-up.
            timer = asyncio.get_running_loop().call_later(delay, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()

    async def close(self) -> None:
        """Stop the scheduler and release hung requests (their connections are then dropped)."""
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None
        for future in list(self._hung):
            if not future.done():
                future.set_result(None)

    # -- HTTP ------------------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Answer one request (the aiohttp low-level handler)."""
        path = request.rel_url.raw_path
        if path.startswith(API_PREFIX + "/"):
            return await self._api(request, path[len(API_PREFIX) + 1 :])
        if path.startswith("/_admin/"):
            return await self._admin(request, path[len("/_admin/") :])
        if path == "/metrics" and request.method == "GET":
            return web.Response(
                body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE, TARGET_HEADER: TARGET_NAME}
            )
        self.stats.record("unmatched", 404)
        return _error(ApiError(GrpcCode.NOT_FOUND, f"Not Found: {request.method} {path}"), routing=True)

    async def _api(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        started = time.perf_counter()
        route, params, path_known = self._router.match(request.method, path)
        name = route.name if route is not None else "unmatched"
        response = await self._answer(request, path, route, params, path_known, name)
        code = response.get(_GRPC_CODE, GrpcCode.OK)
        elapsed = time.perf_counter() - started
        self.metrics.observe(name, response.status, elapsed, code)
        if response.status == 200:  # /_admin/stats times successful answers only
            self.stats.observe(name, elapsed)
        return response

    async def _answer(
        self,
        request: web.BaseRequest,
        path: str,
        route: _Route | None,
        params: dict[str, str],
        path_known: bool,
        name: str,
    ) -> web.StreamResponse:
        config = self.config
        if config.has_api_faults and (name != _HEALTHZ or config.faults_on_healthz):
            fault = await self._inject(request, name, config)
            if fault is not None:
                return fault
        if route is None:
            if path_known:
                self.stats.record(name, 405)
                return _error(ApiError(GrpcCode.UNIMPLEMENTED, "Method Not Allowed", http_status=405), routing=True)
            self.stats.record(name, 404)
            return _error(
                ApiError(GrpcCode.NOT_FOUND, f"Not Found: {request.method} {API_PREFIX}/{path}"), routing=True
            )
        text: Body
        try:
            self.service.current_user = self._identify(request) if config.multi_user and name != _HEALTHZ else None
            query = {k: v for k, v in request.query.items() if v != ""}
            if route.upload is not None:
                data, filename = await _read_upload(request)
                text = route.upload(query, data, filename)
            else:
                body = await request.read() if request.body_exists else b""
                assert route.handler is not None
                text = route.handler(_Call(params, query, body))
        except ApiError as exc:
            self.stats.record(name, exc.http_status)
            return _upload_error(exc) if route.upload is not None else _error(exc)
        except web.HTTPRequestEntityTooLarge as exc:
            self.stats.record(name, 413)
            return _error(
                ApiError(GrpcCode.INVALID_ARGUMENT, f"The request body is too large: {exc.text}", http_status=413)
            )
        except Exception as exc:
            logger.exception("the embedded KFP simulator failed on %s %s", request.method, request.path)
            self.stats.record(name, 500)
            return _error(ApiError(GrpcCode.INTERNAL, f"internal error in the embedded KFP simulator: {exc!r}"))
        self.stats.record(name, 200)
        return web.Response(body=text if isinstance(text, bytes) else text.encode(), headers=_HEADERS)

    def _identify(self, request: web.BaseRequest) -> str:
        """The request's user, as a profile deployment's gateway and KFP's authenticators find it
        (``HTTPHeaderAuthenticator``, then ``TokenReviewAuthenticator``); 401 when there is none."""
        config = self.config
        values = request.headers.getall(config.user_id_header, [])
        if len(values) > 1:
            raise ApiError.aborted(
                f"Request header error: unexpected number of '{config.user_id_header}' headers. Expect 1 got "
                f"{len(values)}"
            )
        if values:
            if not values[0].startswith(config.user_id_prefix):
                raise ApiError.aborted(
                    f"Header '{config.user_id_header}' is incorrectly formatted. Expected prefix "
                    f"'{config.user_id_prefix}'"
                )
            user = values[0][len(config.user_id_prefix) :]
            if user:
                return user
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer ") and config.bearer_tokens:
            token_user = config.bearer_tokens.get(authorization[len("Bearer ") :].strip())
            if token_user:
                return token_user
        if config.session_cookies:
            for name, value in request.cookies.items():
                cookie_user = config.session_cookies.get(f"{name}={value}")
                if cookie_user:
                    return cookie_user
        if config.anonymous_user:
            return config.anonymous_user
        raise ApiError(
            GrpcCode.UNAUTHENTICATED,
            "Failed to check authorization. User identity is empty in the request header",
        )

    async def _inject(self, request: web.BaseRequest, route: str, config: SimulatorConfig) -> web.StreamResponse | None:
        """Draw this request's faults: added latency, then at most one of error, drop and hang."""
        rng = self._fault_rng
        delay_ms = config.latency_ms + rng.random() * config.latency_jitter_ms
        if rng.random() < config.latency_spike_probability:
            delay_ms += config.latency_spike_ms
            self.stats.fault("spike")
        draw = rng.random()
        if delay_ms > 0:
            self.stats.fault("latency")
            await asyncio.sleep(delay_ms / 1000)
        if draw < config.error_probability:
            self.stats.fault("error")
            self.stats.record(route, config.error_status)
            code = GrpcCode.UNAVAILABLE if config.error_status == 503 else GrpcCode.INTERNAL
            return _error(ApiError(code, "simulated server error (fault injection)", http_status=config.error_status))
        draw -= config.error_probability
        if draw < config.drop_probability:
            self.stats.fault("drop")
            self.stats.record(route, "dropped")
            return _drop(request)
        draw -= config.drop_probability
        if draw < config.hang_probability:
            self.stats.fault("hang")
            self.stats.record(route, "hung")
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._hung.add(future)
            try:
                await future
            finally:
                self._hung.discard(future)
            return _drop(request)
        return None

    async def _admin(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        known = path in ("info", "config", "stats", "reset")
        route = f"{request.method} /_admin/{path}" if known else "unmatched"
        try:
            if path == "info" and request.method == "GET":
                text = json.dumps(self.info())
            elif path == "config" and request.method == "GET":
                text = self.config.redacted_json()
            elif path == "config" and request.method in ("PUT", "PATCH"):
                changes = _json_object(await request.read(), allow_empty=False)
                try:
                    new_config = self.config.merged(**changes)
                except ValidationError as exc:
                    raise ApiError.invalid(f"invalid simulator configuration: {_pydantic_message(exc)}") from None
                self.set_config(new_config)
                text = new_config.redacted_json()
            elif path == "stats" and request.method == "GET":
                text = json.dumps(self.stats_snapshot())
            elif path == "reset" and request.method == "POST":
                options = _json_object(await request.read(), allow_empty=True)
                self.reset(data=bool(options.get("data", True)), stats=bool(options.get("stats", True)))
                text = EMPTY
            else:
                raise ApiError(GrpcCode.NOT_FOUND, f"Not Found: {request.method} /_admin/{path}")
        except ApiError as exc:
            self.stats.record(route, exc.http_status)
            return _error(exc)
        except web.HTTPRequestEntityTooLarge as exc:
            self.stats.record(route, 413)
            return _error(
                ApiError(GrpcCode.INVALID_ARGUMENT, f"The request body is too large: {exc.text}", http_status=413)
            )
        self.stats.record(route, 200)
        return web.Response(body=text.encode(), headers=_HEADERS)

    # -- routes ----------------------------------------------------------------------------------

    def _build_router(self) -> _Router:
        s = self.service
        r = _Router()
        r.add("GET", "healthz", lambda c: s.healthz())
        # Pipelines.
        r.add("POST", "pipelines/upload", upload=s.upload_pipeline)
        r.add("POST", "pipelines/upload_version", upload=s.upload_pipeline_version)
        r.add("POST", "pipelines/create", lambda c: s.create_pipeline_and_version(c.body))
        r.add("POST", "pipelines", lambda c: s.create_pipeline(c.body))
        r.add("GET", "pipelines", lambda c: s.list_pipelines(c.query))
        r.add("GET", "pipelines/names/{name}", lambda c: s.get_pipeline_by_name(c.params["name"], c.query))
        r.add("GET", "pipelines/{pipeline_id}", lambda c: s.get_pipeline(c.params["pipeline_id"]))
        r.add("DELETE", "pipelines/{pipeline_id}", lambda c: s.delete_pipeline(c.params["pipeline_id"], c.query))
        r.add("PATCH", "pipelines/{pipeline_id}", lambda c: s.update_pipeline(c.params["pipeline_id"], c.body))
        r.add(
            "POST",
            "pipelines/{pipeline_id}/versions",
            lambda c: s.create_pipeline_version(c.params["pipeline_id"], c.body),
        )
        r.add(
            "GET",
            "pipelines/{pipeline_id}/versions",
            lambda c: s.list_pipeline_versions(c.params["pipeline_id"], c.query),
        )
        r.add(
            "GET",
            "pipelines/{pipeline_id}/versions/{pipeline_version_id}",
            lambda c: s.get_pipeline_version(c.params["pipeline_id"], c.params["pipeline_version_id"]),
        )
        r.add(
            "PATCH",
            "pipelines/{pipeline_id}/versions/{pipeline_version_id}",
            lambda c: s.update_pipeline_version(c.params["pipeline_id"], c.params["pipeline_version_id"], c.body),
        )
        r.add(
            "DELETE",
            "pipelines/{pipeline_id}/versions/{pipeline_version_id}",
            lambda c: s.delete_pipeline_version(c.params["pipeline_id"], c.params["pipeline_version_id"]),
        )
        # Experiments.
        r.add("POST", "experiments", lambda c: s.create_experiment(c.body))
        r.add("GET", "experiments", lambda c: s.list_experiments(c.query))
        r.add("GET", "experiments/{experiment_id}", lambda c: s.get_experiment(c.params["experiment_id"]))
        r.add("DELETE", "experiments/{experiment_id}", lambda c: s.delete_experiment(c.params["experiment_id"]))
        r.add(
            "POST",
            "experiments/{experiment_id}:archive",
            lambda c: s.set_experiment_archived(c.params["experiment_id"], True),
        )
        r.add(
            "POST",
            "experiments/{experiment_id}:unarchive",
            lambda c: s.set_experiment_archived(c.params["experiment_id"], False),
        )
        # Runs.
        r.add("POST", "runs", lambda c: s.create_run(c.body, c.query))
        r.add("GET", "runs", lambda c: s.list_runs(c.query))
        r.add("GET", "runs/{run_id}", lambda c: s.get_run(c.params["run_id"]))
        r.add("DELETE", "runs/{run_id}", lambda c: s.delete_run(c.params["run_id"]))
        r.add("POST", "runs/{run_id}:terminate", lambda c: s.terminate_run(c.params["run_id"]))
        r.add("POST", "runs/{run_id}:retry", lambda c: s.retry_run(c.params["run_id"]))
        r.add("POST", "runs/{run_id}:archive", lambda c: s.set_run_archived(c.params["run_id"], True))
        r.add("POST", "runs/{run_id}:unarchive", lambda c: s.set_run_archived(c.params["run_id"], False))
        # Recurring runs.
        r.add("POST", "recurringruns", lambda c: s.create_recurring_run(c.body))
        r.add("GET", "recurringruns", lambda c: s.list_recurring_runs(c.query))
        r.add("GET", "recurringruns/{recurring_run_id}", lambda c: s.get_recurring_run(c.params["recurring_run_id"]))
        r.add(
            "DELETE",
            "recurringruns/{recurring_run_id}",
            lambda c: s.delete_recurring_run(c.params["recurring_run_id"]),
        )
        r.add(
            "POST",
            "recurringruns/{recurring_run_id}:enable",
            lambda c: s.set_recurring_enabled(c.params["recurring_run_id"], True),
        )
        r.add(
            "POST",
            "recurringruns/{recurring_run_id}:disable",
            lambda c: s.set_recurring_enabled(c.params["recurring_run_id"], False),
        )
        return r


_STATUS_TYPE = "type.googleapis.com/google.rpc.Status"


def _error(exc: ApiError, *, routing: bool = False) -> web.Response:
    """grpc-gateway's ``google.rpc.Status`` body. KFP's ``UserError.GRPCStatus`` attaches one detail, itself a
    ``google.rpc.Status`` with the external message; the gateway's own routing errors have none."""
    details = [] if routing else [{"@type": _STATUS_TYPE, "code": int(exc.code), "message": exc.message}]
    body = json.dumps({"code": int(exc.code), "message": exc.message, "details": details})
    response = web.Response(body=body.encode(), status=exc.http_status, headers=_HEADERS)
    response[_GRPC_CODE] = exc.code  # for the metrics
    return response


def _upload_error(exc: ApiError) -> web.Response:
    """The upload endpoints' own body (``PipelineUploadServer.writeErrorToResponse``: ``apiv1beta1.Error``)."""
    body = json.dumps({"error_message": exc.message, "error_details": exc.message})
    response = web.Response(body=body.encode(), status=exc.http_status, headers=_HEADERS)
    response[_GRPC_CODE] = exc.code
    return response


def _drop(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection without answering (the client sees a reset or an early EOF)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


def _json_object(body: bytes, *, allow_empty: bool) -> dict[str, Any]:
    if not body.strip():
        if allow_empty:
            return {}
        raise ApiError.invalid("The request body is empty; expected a JSON object")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError.invalid(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError.invalid("The request body must be a JSON object")
    return value


def _pydantic_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())


async def _read_upload(request: web.BaseRequest) -> tuple[bytes, str]:
    """The ``uploadfile`` part of a multipart upload."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError.invalid(
            f"Failed to upload pipeline: expected a multipart/form-data body, got {request.content_type!r}"
        )
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError.invalid("Failed to upload pipeline: the file is larger than 32 MiB") from None
    except Exception as exc:  # any parse failure of the body is the client's: aiohttp raises many kinds
        raise ApiError.invalid(f"Failed to upload pipeline: malformed multipart body ({exc})") from None
    field = form.get("uploadfile")
    if field is None:
        raise ApiError.invalid("Failed to upload pipeline: the multipart body has no 'uploadfile' part")
    if isinstance(field, str):
        return field.encode(), "uploadfile"
    if isinstance(field, bytes | bytearray):
        return bytes(field), "uploadfile"
    return field.file.read(), field.filename or "uploadfile"
