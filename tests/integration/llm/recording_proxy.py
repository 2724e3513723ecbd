"""A reverse proxy on loopback in front of a real mock server: it records the headers each request came
with and can answer some paths with an error of its own (as a real server does, e.g. vLLM's 400 for a
chat request to a model without a chat template), forwarding everything else unchanged.

With ``authorization`` it is a server that checks it as vLLM's ``--api-key`` does: a request to ``/v1/...``
with any other ``Authorization`` gets 401.
With ``watch_cmdlines``, while it handles each request (the load generator's processes are alive then) it
reads every process's command line (``/proc/<pid>/cmdline``, what ``ps`` shows) and records the pids whose
command line holds one of those strings."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

_HOP = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class ProxyLog:
    """What the proxy saw: each request's method, path and headers (lower-case names)."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    errors: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (status, message)
    # "{authorization}" in a message is replaced by the request's Authorization header (a server echoing it)
    unauthorized: int = 0  # requests answered 401 (wrong or missing Authorization)
    cmdline_scans: int = 0
    cmdline_hits: dict[int, str] = field(default_factory=dict)  # pid -> its program (never the secret)

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [headers for _, seen, headers in self.requests if seen == path]


@contextmanager
def recording_proxy(upstream: str, errors: dict[str, tuple[int, str]] | None = None, *,
                    authorization: str | None = None,
                    watch_cmdlines: tuple[str, ...] = ()) -> Iterator[tuple[str, ProxyLog]]:
    """``(url, log)`` of a proxy to ``upstream`` running in its own thread until the block ends."""
    log = ProxyLog(errors=dict(errors or {}))
    needles = [needle.encode() for needle in watch_cmdlines if needle]

    def scan_cmdlines() -> None:
        log.cmdline_scans += 1
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    cmdline = handle.read()
            except OSError:  # gone meanwhile
                continue
            if any(needle in cmdline for needle in needles):
                log.cmdline_hits[int(name)] = cmdline.split(b"\0", 1)[0].decode(errors="replace")
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        log.requests.append((request.method, request.path, {k.lower(): v for k, v in request.headers.items()}))
        if needles:
            scan_cmdlines()
        if (authorization is not None and request.path.startswith("/v1/")  # as vLLM's --api-key: /health is open
                and request.headers.get("Authorization") != authorization):
            log.unauthorized += 1
            return web.json_response({"object": "error", "message": "invalid or missing API key",
                                      "type": "AuthenticationError", "code": 401}, status=401)
        if request.path in log.errors:
            status, message = log.errors[request.path]
            message = message.replace("{authorization}", request.headers.get("Authorization", ""))  # an echo
            body = {"object": "error", "message": message, "type": "BadRequestError", "param": None,
                    "code": status}
            return web.json_response(body, status=status)
        session: aiohttp.ClientSession = box["session"]  # type: ignore[assignment]
        data = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with session.request(request.method, upstream + request.path_qs, data=data, headers=headers) as answer:
            response = web.StreamResponse(status=answer.status, headers={
                k: v for k, v in answer.headers.items() if k.lower() not in _HOP})
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def start() -> None:
        box["session"] = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["runner"] = runner
        box["port"] = runner.addresses[0][1]
        started.set()

    async def stop() -> None:
        await box["session"].close()  # type: ignore[attr-defined]
        await box["runner"].cleanup()  # type: ignore[attr-defined]

    thread = threading.Thread(target=loop.run_forever, name="recording-proxy", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{box['port']}", log
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
