"""A loopback HTTP proxy in front of the simulator that injects chosen faults into chosen requests.

The simulator's own faults are drawn at random for every route; a test of "one dropped upload, then
three 500s on the version lookup" needs those exact faults on those exact calls. ``FaultProxy`` forwards
everything to the upstream server, except that a request matching a planned fault gets the next planned
answer for its pattern: an HTTP status (a KFP-style error body), ``"drop"`` (the connection closes
unanswered) or ``("hold", seconds)`` (the upstream answers at once; the proxy holds the answer back).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["FaultProxy"]


class FaultProxy:
    """``with FaultProxy(upstream_url) as proxy: proxy.plan("GET", r"/apis/.*/versions", 500, 500)``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self.injected: Counter[str] = Counter()
        self._plans: list[tuple[str, re.Pattern[str], list[int | str | tuple[str, float]]]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    def plan(self, method: str, path_pattern: str, *answers: int | str | tuple[str, float]) -> None:
        """The next requests of ``method`` whose path fully matches ``path_pattern`` get ``answers``."""
        with self._lock:
            self._plans.append((method, re.compile(path_pattern), list(answers)))

    def _next_fault(self, method: str, path: str) -> int | str | tuple[str, float] | None:
        with self._lock:
            for plan_method, pattern, answers in self._plans:
                if plan_method == method and answers and pattern.fullmatch(path):
                    answer = answers.pop(0)
                    self.injected[f"{method} {pattern.pattern}: {answer}"] += 1
                    return answer
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._next_fault(request.method, request.path)
        body = await request.read()
        if fault == "drop":
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        hold = fault[1] if isinstance(fault, tuple) else 0.0
        if fault is not None and not isinstance(fault, tuple):
            return web.json_response({"error": "injected", "code": 13, "message": f"injected HTTP {fault}"},
                                     status=int(fault))
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding", "connection")}
        assert self._session is not None
        async with self._session.request(request.method, self.upstream + str(request.rel_url), data=body,
                                         headers=headers) as answer:
            data = await answer.read()
            if hold:
                await asyncio.sleep(hold)  # the fault under test: an answer that arrives late
            return web.Response(body=data, status=answer.status,
                                headers={"Content-Type": answer.headers.get("Content-Type", "application/json")})

    def __enter__(self) -> FaultProxy:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), name="fault-proxy", daemon=True)
        self._thread.start()
        assert ready.wait(10), "the fault proxy did not start"
        return self

    def _main(self, ready: threading.Event) -> None:
        asyncio.run(self._serve(ready))

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()
            await self._session.close()

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
