"""A local LLM stack for a miniature of the seed-003 experiment: real vLLM on CPU plus a Prometheus scraping it.

``python -m perf_tests local-stack [-- COMMAND ...]`` builds the tiny random-weight model (once, under
``.cache/perf-tests``), starts vLLM's OpenAI server on ``127.0.0.1:18000`` with the ``make vllm-env``
interpreter and Debian's ``prometheus`` on ``127.0.0.1:19090`` scraping it every second, then runs
COMMAND with ``PROMETHEUS_URL`` set (``make perf SCENARIO=llm_vllm_stairs.json`` does this) and stops both;
without a command it keeps them up until Ctrl-C, for a scenario of one's own (``targetUrl``
``http://127.0.0.1:18000``, model ``tiny-llama``).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import urllib3

from perf_tests.errors import ConfigurationError, TargetError
from perf_tests.llm.assets.tiny_model import SERVED_MODEL_NAME, VLLM_PYTHON, tiny_model, vllm_argv, vllm_env
from perf_tests.llm.health import health_status
from perf_tests.llm.process.children import ChildProcess, log_tail
from perf_tests.observability.local_prometheus import LocalPrometheus

__all__ = ["DEFAULT_PROMETHEUS_PORT", "DEFAULT_VLLM_PORT", "run_local_stack"]

DEFAULT_VLLM_PORT = 18000
DEFAULT_PROMETHEUS_PORT = 19090
START_TIMEOUT = 300.0  # seconds: two interpreter starts importing torch and vLLM on a busy 2-core machine


def _wait_healthy(url: str, server: ChildProcess, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if health_status(url, 2.0) == 200:
                return
        except (urllib3.exceptions.HTTPError, OSError):
            pass
        server.wait(1.0)  # returns early when the server exits
    raise TargetError(f"vLLM at {url} did not become healthy within {START_TIMEOUT:g}s; log {log}:\n"
                      f"{log_tail(log, 4000)}")


def run_local_stack(command: Sequence[str], folder: Path, vllm_port: int = DEFAULT_VLLM_PORT,
                    prometheus_port: int = DEFAULT_PROMETHEUS_PORT, repo: Path | None = None) -> int:
    """Start vLLM and Prometheus, run ``command`` (or wait for Ctrl-C), stop both; the command's exit code."""
    repo = repo or Path.cwd()
    python = repo / VLLM_PYTHON
    if not python.is_file():
        raise ConfigurationError(f"the vLLM virtualenv is missing ({python}); create it with `make vllm-env`")
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_model(repo / ".cache" / "perf-tests")
    url = f"http://127.0.0.1:{vllm_port}"
    log = folder / "vllm-server.log"
    server = ChildProcess(f"vllm:{vllm_port}", vllm_argv(python, model, "127.0.0.1", vllm_port), log,
                          env=vllm_env(1), cwd=repo)
    prometheus = LocalPrometheus(folder / "prometheus", scrape_interval=1.0, port=prometheus_port)
    print(f"local stack: starting vLLM ({SERVED_MODEL_NAME}) at {url}, log {log}", flush=True)
    server.start()
    try:
        _wait_healthy(url, server, log)
        prometheus.add_target("vllm", f"127.0.0.1:{vllm_port}")
        prometheus.start()
        print(f"local stack: vLLM {url}, Prometheus {prometheus.url} (PROMETHEUS_URL)", flush=True)
        if not command:
            print("local stack: up; Ctrl-C stops it", flush=True)
            while server.poll() is None:
                server.wait(5.0)
            return 1
        return subprocess.call(list(command), env={**os.environ, "PROMETHEUS_URL": prometheus.url})
    except KeyboardInterrupt:
        return 130
    finally:
        prometheus.stop()
        server.stop(grace=20.0)
