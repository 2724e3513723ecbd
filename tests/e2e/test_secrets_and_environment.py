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
    env.update({"SCENARIO_FILE_NAME": str(scenario), "PERF_RESULTS_DIR": str(tmp_path / "results"), **env_extra})
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


def _bad_environment(tmp_path: Path, kind: str) -> tuple[dict[str, str], str]:
    """An environment with one bad variable (issue 11, item 13) and the text its error must hold."""
    if kind == "two-line token file":
        token = tmp_path / "token"
        token.write_text(f"{TOKEN}\nsecond-{TOKEN}\n")
        return {"API_HOST": "localhost", "API_TOKEN_FILE": str(token)}, "API_TOKEN_FILE"
    if kind == "token file /dev/zero":
        return {"API_HOST": "localhost", "API_TOKEN_FILE": "/dev/zero"}, "not a regular file"
    if kind == "token file FIFO":
        fifo = tmp_path / "token.fifo"
        os.mkfifo(fifo)
        return {"API_HOST": "localhost", "API_TOKEN_FILE": str(fifo)}, "it is a FIFO, not a regular file"
    if kind == "CA_BUNDLE missing":
        return {"API_HOST": "localhost", "CA_BUNDLE": str(tmp_path / "none.pem")}, "CA_BUNDLE="
    if kind == "CA_BUNDLE not a bundle":
        bundle = tmp_path / "ca.pem"
        bundle.write_text("not a certificate\n")
        return {"API_HOST": "localhost", "CA_BUNDLE": str(bundle)}, "is not a CA bundle"
    if kind == "REQUEST_TIMEOUT=inf":
        return {"REQUEST_TIMEOUT": "inf"}, "REQUEST_TIMEOUT='inf': Input should be a finite number"
    if kind == "API_HOST with a path":
        return {"API_HOST": "127.0.0.1/pipeline"}, "put the path in API_PATH_PREFIX"
    if kind == "PERF_RESULTS_DIR is a file":
        file = tmp_path / "file"
        file.write_text("x")
        return {"PERF_RESULTS_DIR": str(file)}, f"PERF_RESULTS_DIR={file} is a file, not a directory"
    if kind == "PERF_RESULTS_DIR under a file":
        file = tmp_path / "file"
        file.write_text("x")
        return {"PERF_RESULTS_DIR": str(file / "results")}, f"is under {file}, which is a file"
    assert kind == "PERF_RESULTS_DIR too long"
    return {"PERF_RESULTS_DIR": str(tmp_path / ("r" * 300))}, "has a directory name of 300 characters"


@pytest.mark.parametrize("kind", [
    "two-line token file", "token file /dev/zero", "token file FIFO", "CA_BUNDLE missing", "CA_BUNDLE not a bundle",
    "REQUEST_TIMEOUT=inf", "API_HOST with a path", "PERF_RESULTS_DIR is a file", "PERF_RESULTS_DIR under a file",
    "PERF_RESULTS_DIR too long",
])
def test_a_bad_environment_variable_is_one_clear_message_and_exit_2(tmp_path, kind):
    env, expected = _bad_environment(tmp_path, kind)
    proc = perf_run(tmp_path, env, cli=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert expected in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only file system (a tmpfs mounted ro): root may write anywhere else."""
    path = tmp_path / "ro"
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_a_read_only_results_dir_is_one_clear_message_and_exit_2(tmp_path, read_only_dir):
    proc = perf_run(tmp_path, {"PERF_RESULTS_DIR": str(read_only_dir / "results")}, cli=True)
    assert proc.returncode == 2
    assert f"PERF_RESULTS_DIR={read_only_dir / 'results'} cannot be created (Read-only file system)" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
