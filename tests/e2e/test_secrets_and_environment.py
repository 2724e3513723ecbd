"""Secrets never reach an output, and bad environment settings or a wrong target give one clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "tok-SECRET-5f1d2c9e8b7a"
COOKIE_VALUE = "ck-SECRET-0a9b8c7d6e5f"
SCENARIO = [{"mode": "PIPELINE_RUN", "startTime": 0, "runTime": "3s", "numTimes": 2, "pollInterval": "100ms",
             "allowedFailureRate": 1.0}]


def perf_run(tmp_path: Path, env_extra: dict[str, str], *, cli: bool = False) -> subprocess.CompletedProcess[str]:
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(SCENARIO))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "SCENARIO_"))}
    env.update(SCENARIO_FILE_NAME=str(scenario), PERF_RESULTS_DIR=str(tmp_path / "results"), **env_extra)
    command = [sys.executable, "-m", "perf_tests", "run"] if cli else [
        sys.executable, "-m", "pytest", "test_performance.py", "-p", "no:cacheprovider"]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_token_and_cookie_appear_in_no_output(tmp_path):
    proc = perf_run(tmp_path, {
        "API_TOKEN": TOKEN,
        "API_COOKIE": f"authservice_session={COOKIE_VALUE}",
        "LOG_LEVEL": "DEBUG",
        # Errors and slow calls put server answers into events and logs: they must still be clean.
        "EMBEDDED_SIMULATOR": json.dumps({"task_seconds": 0.1, "error_probability": 0.2, "seed": 3}),
    })
    assert proc.returncode == 0, proc.stdout[-3000:]
    outputs = {"stdout": proc.stdout, "stderr": proc.stderr}
    files = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"events.jsonl", "summary.json", "perf.log", "perf.log.jsonl"}
    outputs.update({str(p): p.read_text(errors="replace") for p in files})
    for name, text in outputs.items():
        assert TOKEN not in text, name
        assert COOKIE_VALUE not in text, name


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"API_HOST": "localhost", "API_PORT": "eighty"}, "API_PORT='eighty'"),
        ({"API_HOST": "https://kfp.example.com"}, "API_SCHEME"),
        ({"API_HOST": "localhost", "API_TOKEN_FILE": "/nonexistent/token"}, "API_TOKEN_FILE"),
        ({"REQUEST_TIMEOUT": "-1"}, "REQUEST_TIMEOUT"),
        ({"EMBEDDED_SIMULATOR": '{"error_probability": 2}'}, "EMBEDDED_SIMULATOR"),
        ({"PERF_CLEANUP": "everything"}, "PERF_CLEANUP"),
    ],
)
def test_bad_environment_is_one_clear_message(tmp_path, env, expected):
    proc = perf_run(tmp_path, env, cli=True)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


class _LoginPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><body><form>Log in</form></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def login_page() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_target_that_is_not_kfp_says_so(tmp_path, login_page):
    proc = perf_run(tmp_path, {"API_HOST": "127.0.0.1", "API_PORT": str(login_page)}, cli=True)
    assert proc.returncode == 2
    assert "got HTML, probably an authentication redirect" in proc.stderr
    assert "Traceback" not in proc.stderr
