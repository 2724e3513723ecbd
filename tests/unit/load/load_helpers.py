"""Helpers of the load-engine tests: a real aiohttp server on loopback, a fixed workload, an event collector.

The server runs in its own thread and event loop on port 0 and answers:

- ``GET /ok``: 200 at once;
- ``GET /slow?s=0.3``: 200 after ``s`` seconds (a slow server: it holds the connection);
- ``GET /status/{code}``: that status;
- ``GET /drop``: the connection is closed without an answer (like a server dropping it);
- a KFP-like ``/apis/v2beta1`` with list answers (``runs``, ``experiments``, ``pipelines``, versions),
  get answers and ``healthz``, filled from ``server.ids``.

It counts hits per path, keeps the query strings of list calls and the most requests it ever had in
flight at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from perf_tests.load import get_bytes, open_session
from perf_tests.recorder import AggregateRecord, OperationEvent
from perf_tests.scheduler import FakeTime

T = TypeVar("T")

_LISTS = {"runs": "run_id", "experiments": "experiment_id", "pipelines": "pipeline_id"}


class LoopbackServer:
    """The test server (see the module docstring); ``reset()`` between tests."""

    def __init__(self) -> None:
        self.url = ""
        self.ids: dict[str, list[str]] = {}
        self.hits: Counter[str] = Counter()
        self.queries: dict[str, list[dict[str, str]]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback-server", daemon=True)

    def reset(self) -> None:
        self.ids = {"runs": [], "experiments": [], "pipelines": []}
        self.hits.clear()
        self.queries.clear()
        self.in_flight = 0
        self.max_in_flight = 0

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        self.reset()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Handlers of abandoned slow requests may still be sleeping: end them before the loop closes.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/ok", self._ok)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/drop", self._drop)
        app.router.add_get("/apis/v2beta1/healthz", self._ok)
        app.router.add_get("/apis/v2beta1/pipelines/{id}/versions", self._versions)
        app.router.add_get("/apis/v2beta1/{kind}", self._list)
        app.router.add_get("/apis/v2beta1/{kind}/{id}", self._get)
        app.middlewares.append(self._count)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    @web.middleware
    async def _count(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            self.in_flight -= 1

    async def _ok(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "0.3")))
        return web.json_response({})

    async def _status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        if 300 <= code < 400:
            return web.Response(status=code, headers={"Location": "/ok"})
        return web.json_response({"error": "injected", "code": 13, "message": "injected failure"}, status=code)

    async def _drop(self, request: web.Request) -> web.Response:
        transport = request.transport
        assert transport is not None
        transport.abort()
        raise asyncio.CancelledError  # aiohttp ends the handler without writing an answer

    async def _list(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in _LISTS:
            return web.json_response({"message": "not found"}, status=404)
        self.queries.setdefault(kind, []).append(dict(request.query))
        ids = self.ids.get(kind, [])
        size = int(request.query.get("page_size", "10"))
        body: dict[str, Any] = {kind: [{_LISTS[kind]: item} for item in ids[:size]]} if ids else {}
        if ids:
            body["total_size"] = len(ids)
        return web.Response(text=json.dumps(body), content_type="application/json")

    async def _versions(self, request: web.Request) -> web.Response:
        self.queries.setdefault("versions", []).append(dict(request.query))
        return web.json_response({"pipeline_versions": [{"pipeline_version_id": "v1"}], "total_size": 1})

    async def _get(self, request: web.Request) -> web.Response:
        kind, item = request.match_info["kind"], request.match_info["id"]
        if kind not in _LISTS or item not in self.ids.get(kind, []):
            return web.json_response({"message": f"{item} not found"}, status=404)
        return web.json_response({_LISTS[kind]: item})


@dataclass(frozen=True)
class Url:
    """An operation of the ``Fixed`` workload: a name and the URL it GETs."""

    name: str
    url: str


class Fixed:
    """A workload that GETs one URL (or cycles through several) — a fake at the interface we own."""

    def __init__(self, session: Any, *operations: Url, on_send: Callable[[], None] | None = None) -> None:
        self._session = session
        self._operations = operations
        self._index = 0
        self._on_send = on_send

    def pick(self) -> Url:
        operation = self._operations[self._index % len(self._operations)]
        self._index += 1
        return operation

    async def send(self, operation: Url) -> Mapping[str, Any] | None:
        if self._on_send is not None:
            self._on_send()
        await get_bytes(self._session, operation.url)
        return None


class Collected:
    """Every event fired on a hook, by kind."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self._lock:
            self.events.append(event)

    @property
    def operations(self) -> list[OperationEvent]:
        return [e for e in self.events if isinstance(e, OperationEvent)]

    @property
    def aggregates(self) -> list[AggregateRecord]:
        return [e for e in self.events if isinstance(e, AggregateRecord)]

    def attempts(self, operation: str | None = None) -> int:
        """Attempts in the events: own events plus aggregate counts (ok + failed)."""
        own = sum(1 for e in self.operations if operation in (None, e.operation))
        aggregated = sum(a.ok + a.failed for a in self.aggregates if operation in (None, a.operation))
        return own + aggregated

    def counter(self, name: str, operation: str | None = None) -> int:
        return sum(a.counters.get(name, 0) for a in self.aggregates if operation in (None, a.operation))


def new_session(max_connections: int = 100, timeout: float = 10.0) -> Any:
    """An engine session (call inside the event loop)."""
    return open_session(max_connections=max_connections, timeout=timeout)


class Instant:
    """A workload whose requests answer at once, without I/O: on a fake clock a request takes no time.
    ``on_pick(n)`` runs at the n-th pick (from 1), e.g. to move the fake clock: the sender falls behind."""

    def __init__(self, *operations: Url, on_pick: Callable[[int], None] | None = None) -> None:
        self._operations = operations
        self.picks = 0
        self._on_pick = on_pick

    def pick(self) -> Url:
        self.picks += 1
        if self._on_pick is not None:
            self._on_pick(self.picks)
        return self._operations[(self.picks - 1) % len(self._operations)]

    async def send(self, operation: Url) -> Mapping[str, Any] | None:
        return None


def run_on_fake_clock(fake: FakeTime, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on an event loop in a thread while this thread moves ``fake`` time: each time every
    task of the loop waits on the clock (the loop has run what was ready), jump to the earliest deadline.

    Exact for what the engine decides while a timer of the clock has woken it (the dispatcher's sends and
    drops, a request's send time); a chain of loop steps that waits on no timer (the drain's bookkeeping
    after the last request) may still be running when time moves on, so assert no clock reading after it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-clock-loop", daemon=True)
    thread.start()

    async def settle() -> None:
        await asyncio.sleep(0)

    try:
        running = asyncio.run_coroutine_threadsafe(main(), loop)
        while not running.done():
            if not fake.wait_blocked(lambda: max(1, fake.blocked()), stop_when=running.done):
                break
            asyncio.run_coroutine_threadsafe(settle(), loop).result(timeout=10)  # tasks created meanwhile run
            fake.step(lambda: max(1, fake.blocked()), stop_when=running.done)
        return running.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
