"""A local LLM stack for a miniature of the seed-003 experiment: real vLLM on CPU plus a Prometheus scraping it.

``python -m perf_tests local-stack [-- COMMAND ...]`` builds the tiny random-weight model (once, under
``.cache/perf-tests``), starts vLLM's OpenAI server on ``127.0.0.1:18000`` with the ``make vllm-env``
interpreter and Debian's ``prometheus`` on ``127.0.0.1:19090`` scraping it every second, then runs
COMMAND with ``PROMETHEUS_URL`` set (``make perf SCENARIO=llm_vllm_stairs.json`` does this) and stops both;
without a command it keeps them up until Ctrl-C, for a scenario of one's own (``targetUrl``
``http://127.0.0.1:18000``, model ``tiny-llama``). A port already taken (a vLLM left from an earlier run,
anything else) is an error naming it and the option that chooses another, before anything starts; and
vLLM counts as ready only when its own process listens on the port, so the load never goes to a server
this command did not start.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from perf_tests.errors import ConfigurationError
from perf_tests.llm.assets.tiny_model import SERVED_MODEL_NAME, VLLM_PYTHON, tiny_model
from perf_tests.observability.local_prometheus import LocalPrometheus
from perf_tests.stack.local_vllm import VllmServer
from perf_tests.stack.ports import port_in_use, port_taken_message

__all__ = ["DEFAULT_PROMETHEUS_PORT", "DEFAULT_VLLM_PORT", "run_local_stack"]

HOST = "127.0.0.1"
DEFAULT_VLLM_PORT = 18000
DEFAULT_PROMETHEUS_PORT = 19090
_ANOTHER_VLLM_PORT = ("choose another with `python -m perf_tests local-stack --vllm-port PORT` (and a scenario "
                      "targetUrl on that port)")


def run_local_stack(command: Sequence[str], folder: Path, vllm_port: int = DEFAULT_VLLM_PORT,
                    prometheus_port: int = DEFAULT_PROMETHEUS_PORT, repo: Path | None = None) -> int:
    """Start vLLM and Prometheus, run ``command`` (or wait for Ctrl-C), stop both; the command's exit code."""
    repo = repo or Path.cwd()
    python = repo / VLLM_PYTHON
    if not python.is_file():
        raise ConfigurationError(f"the vLLM virtualenv is missing ({python}); create it with `make vllm-env`")
    # Before building anything: a server already on a port would get (vLLM) or answer (Prometheus) in our place.
    for what, port, option in (("the vLLM server", vllm_port, _ANOTHER_VLLM_PORT),
                               ("Prometheus", prometheus_port, "choose another with `python -m perf_tests local-stack "
                                "--prometheus-port PORT`")):
        if port_in_use(HOST, port):
            raise ConfigurationError(port_taken_message(what, HOST, port, option))
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_model(repo / ".cache" / "perf-tests")
    server = VllmServer(model, folder / "vllm-server.log", python=python, port=vllm_port, cwd=repo,
                        port_option=_ANOTHER_VLLM_PORT)
    prometheus = LocalPrometheus(folder / "prometheus", scrape_interval=1.0, port=prometheus_port)
    print(f"local stack: starting vLLM ({SERVED_MODEL_NAME}) at {server.url}, log {server.log_path}", flush=True)
    try:
        server.start()  # the stack's start deadline; a TargetError with the log's last lines when it passes
        prometheus.add_target("vllm", f"127.0.0.1:{vllm_port}")
        prometheus.start()
        print(f"local stack: vLLM {server.url}, Prometheus {prometheus.url} (PROMETHEUS_URL)", flush=True)
        if not command:
            print("local stack: up; Ctrl-C stops it", flush=True)
            while server.wait(5.0) is None:
                pass
            return 1
        return subprocess.call(list(command), env={**os.environ, "PROMETHEUS_URL": prometheus.url})
    except KeyboardInterrupt:
        return 130
    finally:
        prometheus.stop()
        server.stop()
