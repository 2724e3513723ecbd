"""The embedded default target: ``guidellm mock-server`` on a free loopback port.

An OpenAI-compatible server that answers with a configurable time to first token, inter-token latency
and answer length, so an LLM_LOAD entry runs without a model server. It is *not* a model server and
reports say so. ``MockServer`` starts and stops one (its own process group, log file, ``/health``
wait); ``shared_mock_servers`` lets the entries of one run with the same mock settings share one server
(a stair-step of several entries then loads one target), stopped when the last entry releases it.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path

import urllib3

from perf_tests.errors import TargetError
from perf_tests.llm.health import health_status
from perf_tests.llm.options import MockServerOptions
from perf_tests.llm.process.children import ChildProcess, launcher_argv, log_tail

__all__ = ["MockServer", "MockServerPool", "free_port", "shared_mock_servers"]

logger = logging.getLogger(__name__)

_START_TIMEOUT = 90.0  # imports take ~6 s on an idle 2-core machine, far longer while GuideLLM starts


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MockServer:
    """One ``guidellm mock-server`` process on loopback; a context manager."""

    def __init__(self, options: MockServerOptions | None = None, log_path: Path | None = None,
                 host: str = "127.0.0.1") -> None:
        self.options = options or MockServerOptions()
        self.host = host
        self.port = 0
        self.log_path = log_path or Path("mock-server.log")
        self._process: ChildProcess | None = None

    @property
    def pid(self) -> int | None:
        """The server process's id (also its process group's), None when not running."""
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def description(self) -> str:
        """What reports say the target was."""
        return f"guidellm mock-server at {self.url} (not a real model server)"

    def start(self, timeout: float = _START_TIMEOUT, cancel: threading.Event | None = None) -> str:
        """Start the server and wait until ``/health`` answers; its base URL. ``TargetError`` on failure."""
        attempts = 3  # the free port can be taken between choosing it and the server binding it
        for attempt in range(1, attempts + 1):
            self.port = free_port(self.host)
            self._process = ChildProcess(
                f"mock-server:{self.port}",
                launcher_argv(["mock-server", "--host", self.host, "--port", str(self.port),
                               *self.options.cli_args()]),
                self.log_path,
            )
            self._process.start()
            if self._wait_healthy(timeout, cancel):
                logger.info("started %s", self.description)
                return self.url
            code = self._process.stop()
            tail = log_tail(self.log_path, 4000)
            if cancel is not None and cancel.is_set():
                raise TargetError("stopped while the mock server was starting")
            if "address already in use" in tail.lower() and attempt < attempts:
                continue
            last = _last_error_line(tail)
            raise TargetError(
                f"guidellm mock-server did not become healthy within {timeout:g}s (exit code {code}): "
                f"{last or 'no error in its log'}; log: {self.log_path}"
            )
        raise AssertionError("unreachable")

    def _wait_healthy(self, timeout: float, cancel: threading.Event | None) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        pause = threading.Event() if cancel is None else cancel
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if healthy(self.url):
                return True
            if pause.wait(0.1):  # cancelled
                return False
        return False

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self._process is not None:
            self._process.stop(grace=5.0)
            self._process = None

    def __enter__(self) -> MockServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def healthy(url: str, timeout: float = 1.0) -> bool:
    """True when ``<url>/health`` answers 200."""
    try:
        return health_status(url, timeout) == 200
    except (urllib3.exceptions.HTTPError, OSError, ValueError):
        return False


def _last_error_line(text: str) -> str:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line and ("error" in line.lower() or "exception" in line.lower()):
            return line[:300]
    return ""


class MockServerPool:
    """Mock servers shared by identical settings, counted by users; the last release stops one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, tuple[MockServer, int]] = {}
        self._starting: dict[str, threading.Lock] = {}

    def acquire(self, options: MockServerOptions, log_dir: Path, cancel: threading.Event | None = None) -> MockServer:
        """A running server with ``options`` (started on first use; its log in ``log_dir``)."""
        key = json.dumps(options.model_dump(mode="json"), sort_keys=True)
        with self._lock:
            start_lock = self._starting.setdefault(key, threading.Lock())
        with start_lock:  # one start per settings; other users wait for it
            with self._lock:
                if key in self._servers:
                    server, users = self._servers[key]
                    self._servers[key] = (server, users + 1)
                    return server
            server = MockServer(options, log_dir / f"mock-server-{len(self._servers) + 1}.log")
            server.start(cancel=cancel)
            with self._lock:
                self._servers[key] = (server, 1)
            return server

    def release(self, server: MockServer) -> None:
        """One user is done; stop the server when it was the last."""
        stop = False
        with self._lock:
            for key, (known, users) in list(self._servers.items()):
                if known is server:
                    if users <= 1:
                        del self._servers[key]
                        stop = True
                    else:
                        self._servers[key] = (known, users - 1)
                    break
        if stop:
            server.stop()


shared_mock_servers = MockServerPool()
"""The pool of the process: entries of a run sharing mock settings share one server."""
