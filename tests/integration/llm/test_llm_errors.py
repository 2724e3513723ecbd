"""Failures are clear errors at start, and no GuideLLM or mock server outlives what started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from llm_harness import run_entries

from perf_tests.llm.mock_server import MockServer, free_port
from perf_tests.llm.process.children import live_children
from perf_tests.recorder import ScenarioMark
from perf_tests.recorder.events import Event

pytestmark = pytest.mark.llm

COMMON: dict[str, Any] = {"mode": "LLM_LOAD", "startTime": 0, "runTime": "5s", "rate": 1, "workers": 1}


def others(mock_target: MockServer | None = None) -> list[int | None]:
    keep = mock_target.pid if mock_target is not None else None
    return [child.pid for child in live_children() if child.pid != keep]


def test_unreachable_target_fails_at_start(guidellm: None, tokenizer_dir: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = run_entries([{**COMMON, "name": "down", "targetUrl": url, "tokenizer": str(tokenizer_dir)}], tmp_path)
    error = run.results["down"].error
    assert error is not None
    assert error.startswith(f"targetUrl {url} is unreachable (")
    assert error.endswith("check the URL and that the server is running")
    assert not (tmp_path / "down" / "guidellm.log").exists()  # GuideLLM was never started
    assert others() == []


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def not_an_llm_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_target_without_health_endpoint_is_named(guidellm: None, tokenizer_dir: Path, tmp_path: Path,
                                                 not_an_llm_server: str) -> None:
    run = run_entries([{**COMMON, "name": "wrong", "targetUrl": not_an_llm_server,
                        "tokenizer": str(tokenizer_dir)}], tmp_path)
    error = run.results["wrong"].error
    assert error is not None
    assert "answers HTTP 404 on /health, which GuideLLM requires" in error
    assert "backendOptions.validate_backend" in error


@pytest.mark.slow
def test_abort_during_the_load_stops_guidellm_and_its_workers(mock_target: MockServer, tokenizer_dir: Path,
                                                              tmp_path: Path) -> None:
    """Ctrl-C sets the run's abort event: the running GuideLLM is stopped at once, with its workers."""
    abort = threading.Event()
    started = threading.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, ScenarioMark) and event.phase == "started":
            started.set()

    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["run"] = run_entries(
            [{**COMMON, "name": "long", "runTime": "120s", "targetUrl": mock_target.url,
              "tokenizer": str(tokenizer_dir), "rate": 2}],
            tmp_path, abort=abort, listener=on_event,
        )

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert started.wait(timeout=300), "the entry never started"
        assert others(mock_target), "GuideLLM is not running"
        began = time.monotonic()
        abort.set()
    finally:
        abort.set()
        thread.join(timeout=120)
    assert not thread.is_alive()
    assert time.monotonic() - began < 30
    result = outcome["run"].results["long"]
    assert not result.ok and result.error is not None
    assert "stopped before the entry's end (the run was aborted)" in result.error
    assert others(mock_target) == []


@pytest.mark.slow
def test_children_die_with_the_test_run(guidellm: None, tmp_path: Path) -> None:
    """A run killed with SIGKILL runs no cleanup; the launcher sees its parent die and ends the mock server."""
    script = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "from perf_tests.llm.mock_server import MockServer\n"
        f"server = MockServer(log_path=Path({str(tmp_path / 'mock.log')!r}))\n"
        "server.start()\n"
        "print(server.pid, flush=True)\n"
        "threading.Event().wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        os.kill(pid, 0)  # the mock server runs
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        threading.Event().wait(0.1)  # observe the orphan's exit; nothing to wait on across processes
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"
