"""Run the simulator in-process: a background thread with its own event loop, on a loopback port.

>>> with EmbeddedKfpServer(task_seconds=0.05) as server:   # doctest: +SKIP
...     client = kfp.Client(host=server.url)

``port=0`` picks a free port; :meth:`EmbeddedKfpServer.restart` comes back on the same port, and with a
file database (``db_path``) with the same state, like a restarted API server. ``isolation="process"``
runs the same server in a child process instead (its own GIL, for heavy in-process load tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from aiohttp import web

from perf_tests.server.app import KfpSimulatorApp
from perf_tests.server.child import ChildServer
from perf_tests.server.config import SimulatorConfig
from perf_tests.server.pipeline_spec import MAX_PACKAGE_BYTES
from perf_tests.server.store import Store

__all__ = ["EmbeddedKfpServer", "EventLoopKind", "Isolation"]

logger = logging.getLogger(__name__)

EventLoopKind = Literal["auto", "asyncio", "uvloop"]
"""Which event loop serves requests; ``auto`` takes uvloop when it is installed (the ``fast`` extra)."""

Isolation = Literal["thread", "process"]
"""Where the server runs: a thread of this process, or a child process."""

T = TypeVar("T")
_START_TIMEOUT = 30.0
_CALL_TIMEOUT = 30.0


def _new_loop(kind: EventLoopKind) -> asyncio.AbstractEventLoop:
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


class EmbeddedKfpServer:
    """A KFP-API-compatible simulator serving ``/apis/v2beta1`` from a background thread.

    Args:
        config: Simulator behaviour; keyword ``overrides`` (any :class:`SimulatorConfig` field) are
            applied on top, so ``EmbeddedKfpServer(task_seconds=0.05)`` works.
        host: Address to listen on; loopback by default.
        port: Port to listen on; 0 picks a free one (kept across :meth:`restart`).
        db_path: SQLite file, or ``":memory:"`` (state then ends with each stop).
        event_loop: ``auto`` (uvloop when installed), ``asyncio`` or ``uvloop``.
        isolation: ``thread`` (default) serves from a thread of this process; ``process`` from a child
            process with its own GIL, so clients in this process and the server do not slow each other
            down. :meth:`call` needs ``thread``; everything else works either way.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: str | os.PathLike[str] = ":memory:",
        event_loop: EventLoopKind = "auto",
        isolation: Isolation = "thread",
        **overrides: Any,
    ) -> None:
        if isolation not in ("thread", "process"):
            raise ValueError(f"isolation must be 'thread' or 'process', got {isolation!r}")
        base = config or SimulatorConfig()
        self._config = base.merged(**overrides) if overrides else base
        self.host = host
        self.port = port
        self.db_path = os.fspath(db_path)
        self.event_loop = event_loop
        self.isolation = isolation
        self._child: ChildServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: KfpSimulatorApp | None = None
        self._stop: asyncio.Event | None = None
        self._last_stats: dict[str, Any] = {}

    # -- identity --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:41234`` (pass it as ``kfp.Client(host=...)``)."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        if self._child is not None:
            return self._child.alive
        return self._thread is not None and self._thread.is_alive()

    @property
    def config(self) -> SimulatorConfig:
        """The current configuration (including changes made through ``PUT /_admin/config``)."""
        if self._child is not None and self._child.alive:
            return SimulatorConfig.model_validate(self._child.request("GET", "/_admin/config"))
        if self._app is not None:
            return self._app.config
        return self._config

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedKfpServer({self.url}, db={self.db_path!r}, {self.isolation}, {state})"

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port, start the loop thread and return once requests are served.

        Raises:
            RuntimeError: already running.
            OSError: the port cannot be bound.
        """
        if self._thread is not None or self._child is not None:
            raise RuntimeError(f"{self!r} is already running")
        if self.isolation == "process":
            self._child = ChildServer.start(
                host=self.host, port=self.port, db_path=self.db_path, event_loop=self.event_loop, config=self._config
            )
            self.port = self._child.port
            logger.info("embedded KFP simulator serving at %s from child process %d", self.url, self._child.process.pid)
            return self
        sock = self._bind()
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._thread_main, args=(sock, ready, failure), name=f"kfp-simulator-{self.port}", daemon=True
        )
        self._thread = thread
        thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"the embedded KFP simulator did not start within {_START_TIMEOUT:.0f} s")
        if failure:
            thread.join(5)
            self._thread = None
            raise failure[0]
        logger.info("embedded KFP simulator serving at %s (db %s)", self.url, self.db_path)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: hung requests are released, connections closed, the database closed."""
        if self._child is not None:
            child, self._child = self._child, None
            if child.alive:
                with contextlib.suppress(RuntimeError, OSError):  # keep what can be kept for a restart
                    shown = SimulatorConfig.model_validate(child.request("GET", "/_admin/config"))
                    # The child masks tokens and cookies; keep ours.
                    self._config = shown.merged(
                        bearer_tokens=self._config.bearer_tokens, session_cookies=self._config.session_cookies
                    )
                    self._last_stats = child.request("GET", "/_admin/stats")
            child.stop(timeout)
            return
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have just finished
                loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("the embedded KFP simulator thread did not stop within %.0f s", timeout)
        self._thread = None

    def restart(self) -> Self:
        """Stop and start again on the same port (same state when ``db_path`` is a file)."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host or None, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    def _thread_main(self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = _new_loop(self.event_loop)
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(loop, sock, ready))
        except BaseException as exc:  # reported to start() when it happens before ready
            if not ready.is_set():
                failure.append(exc)
                ready.set()
            else:
                logger.exception("the embedded KFP simulator stopped with an error")
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            sock.close()
            self._loop = None

    async def _serve(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, ready: threading.Event) -> None:
        store = Store(self.db_path)
        app = KfpSimulatorApp(store, self._config)

        def request_factory(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
            return web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=MAX_PACKAGE_BYTES + 1024 * 1024
            )

        server = web.Server(app.handle, request_factory=request_factory, handler_cancellation=True, access_log=None)
        listener = await loop.create_server(server, sock=sock, backlog=1024)
        await app.start_background()
        self._stop = asyncio.Event()
        self._app = app
        self._loop = loop
        ready.set()
        try:
            await self._stop.wait()
        finally:
            self._last_stats = app.stats_snapshot()
            self._config = app.config
            listener.close()
            await app.close()
            server.pre_shutdown()  # closes idle keep-alive connections now instead of after the timeout
            await asyncio.sleep(0)
            await server.shutdown(1.0)
            store.close()
            self._app = None
            self._stop = None

    # -- cross-thread access ---------------------------------------------------------------------

    def call(self, fn: Callable[[KfpSimulatorApp], T], timeout: float | None = _CALL_TIMEOUT) -> T:
        """Run ``fn(app)`` on the server's loop thread and return its result (for tests and tools).

        The server answers no request meanwhile, so keep ``fn`` short (or batch the work).

        Raises:
            RuntimeError: the server is not running.
        """
        if self.isolation == "process":
            raise RuntimeError("EmbeddedKfpServer.call() needs isolation='thread'; use the admin endpoints")
        loop, app = self._loop, self._app
        if loop is None or app is None or not self.running:
            raise RuntimeError(f"{self!r} is not running")

        async def run() -> T:
            return fn(app)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change the simulator's behaviour now (validated; unknown fields are an error)."""
        new_config = self.config.merged(**changes)
        self._config = new_config
        if self._child is not None and self.running:
            self._child.request("PUT", "/_admin/config", new_config.model_dump())
        elif self.running:
            self.call(lambda app: app.set_config(new_config))
        return new_config

    def stats(self) -> dict[str, Any]:
        """Request counters per route and status, faults injected, object counts."""
        if self._child is not None and self.running:
            stats: dict[str, Any] = self._child.request("GET", "/_admin/stats")
            return stats
        if self.running:
            return self.call(KfpSimulatorApp.stats_snapshot)
        return dict(self._last_stats)

    def reset(self, *, data: bool = True, stats: bool = True) -> None:
        """Forget all objects (the ``Default`` experiment is recreated) and/or request counters."""
        if self._child is not None:
            self._child.request("POST", "/_admin/reset", {"data": data, "stats": stats})
            return
        self.call(lambda app: app.reset(data=data, stats=stats))
