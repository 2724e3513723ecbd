"""The ``local-vllm`` stack's failure paths in a real run, with a stand-in server (a shell script) for vLLM.

Ctrl-C while the server starts stops the run in bounded time with nothing of the server's process group
left, and the record says so; a server that exits fails the entry with its last log lines. (The real
server, end to end, is ``tests/integration/vllm/test_stack_local_vllm.py``.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.perf_cli import REPO, perf_env, perf_run, shell_script

pytestmark = pytest.mark.llm


def _server(tmp_path: Path, body: str) -> Path:
    return shell_script(tmp_path / "vllm-python", body)


def _scenario(tmp_path: Path) -> Path:
    scenario = tmp_path / "stack.json"
    scenario.write_text(json.dumps([{
        "mode": "LLM_LOAD", "name": "local", "startTime": 0, "runTime": "5s", "rate": 1, "workers": 1,
        "stack": {"kind": "local-vllm", "readyTimeout": "2m"},
    }]), encoding="utf-8")
    return scenario


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_while_the_server_starts_leaves_nothing_running(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    python = _server(tmp_path, f'sleep 300 &\necho "$$ $!" > {pids}\necho "still importing"\nwait')
    results = tmp_path / "results"
    env = perf_env({"VLLM_PYTHON": str(python)})
    run = subprocess.Popen([sys.executable, "-m", "perf_tests", "run", str(_scenario(tmp_path)), "--results-dir",
                            str(results)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not pids.is_file() or not pids.read_text(encoding="utf-8").strip():
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.1)
        server, child = (int(pid) for pid in pids.read_text(encoding="utf-8").split())
        run.send_signal(signal.SIGINT)
        run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0
    assert not _alive(server) and not _alive(child)  # the server's whole process group is gone
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    [entry] = summary["scenarios"]
    record = entry["attrs"]["stack"]
    states = [t["state"] for t in record["transitions"] if t["replica"] is None]
    assert states[0] == "starting" and "failed" in states
    assert record["ready_at"] is None


def test_a_server_that_exits_fails_the_entry_with_its_last_log_lines(tmp_path: Path) -> None:
    python = _server(tmp_path, 'echo "ValueError: the model does not fit" >&2\nexit 3')
    results = tmp_path / "results"
    run = perf_run(_scenario(tmp_path), results, {"VLLM_PYTHON": str(python)}, timeout=180)
    assert run.returncode == 1
    assert "exited with code 3" in run.stderr + run.stdout
    assert "ValueError: the model does not fit" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


DEPLOY_SECONDS = 8


def test_rates_are_per_second_of_the_load_not_of_the_deployment(tmp_path: Path) -> None:
    """A stack that takes ``DEPLOY_SECONDS`` to come up (a stand-in: GuideLLM's mock server, started late, on
    the port vLLM was given): ``llm_request``'s throughput is per second of the load (GuideLLM's run), as is
    GuideLLM's own request rate, not of the entry's window, which also holds the deployment and start-up."""
    python = _server(tmp_path, "\n".join([
        'while [ $# -gt 0 ]; do case "$1" in --port) port=$2;; --host) host=$2;; --served-model-name) name=$2;; '
        'esac; shift; done',
        f"sleep {DEPLOY_SECONDS}",
        f'exec {sys.executable} -m perf_tests.llm.process.launcher mock-server --host "$host" --port "$port" '
        '--model "$name" --ttft-ms 5 --itl-ms 1',
    ]))
    scenario = tmp_path / "stack.json"
    scenario.write_text(json.dumps([{
        "mode": "LLM_LOAD", "name": "local", "startTime": 0, "runTime": "6s", "rate": 4, "workers": 1,
        "promptTokens": 16, "outputTokens": 8, "startupLead": "20s",
        "stack": {"kind": "local-vllm", "readyTimeout": "2m"},
        "thresholds": ["rate(llm_request) >= 2"],
    }]), encoding="utf-8")
    results = tmp_path / "results"
    run = perf_run(scenario, results, {"VLLM_PYTHON": str(python)}, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [entry] = json.loads((results / "summary.json").read_text(encoding="utf-8"))["scenarios"]
    load = entry["load_duration_s"]
    assert entry["duration_s"] > load + DEPLOY_SECONDS, "the entry's window holds the deployment"
    assert 6.0 <= load <= 7.5, "the load window is GuideLLM's run: runTime 6s from its start"
    requests = entry["operations"]["llm_request"]
    assert requests["count"] > 0
    assert requests["throughput"] == pytest.approx(requests["count"] / load)
    guidellm = entry["operations"]["requests"]["throughput"]  # GuideLLM's own, over its benchmark
    assert requests["throughput"] == pytest.approx(guidellm, rel=0.25)
    [check] = [c for c in entry["verdict"]["checks"] if "rate(llm_request)" in c.get("name", "")]
    assert check["passed"], check


FOREIGN = """
import http.server, json, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": "tiny-llama"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_a_server_we_did_not_start_on_the_port_is_never_loaded(tmp_path: Path) -> None:
    """Another server takes the port between the stack's check and vLLM's bind (a stand-in for vLLM starts it
    in a session of its own, then never binds): it answers ``/v1/models`` with the right model, but its socket
    is not in the stack's process group, so the entry fails naming the port and no request is sent to it."""
    (tmp_path / "foreign.py").write_text(FOREIGN, encoding="utf-8")
    foreign_pid = tmp_path / "foreign.pid"
    python = _server(tmp_path, "\n".join([
        'while [ $# -gt 0 ]; do case "$1" in --port) port=$2;; esac; shift; done',
        f'setsid {sys.executable} {tmp_path / "foreign.py"} "$port" </dev/null >/dev/null 2>&1 &',
        f"echo $! > {foreign_pid}",
        "sleep 300",
    ]))
    results = tmp_path / "results"
    env = {"VLLM_PYTHON": str(python)}
    try:
        run = perf_run(_scenario(tmp_path), results, env, timeout=240)
    finally:
        if foreign_pid.is_file():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(foreign_pid.read_text(encoding="utf-8")), signal.SIGKILL)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "another server answers at http://127.0.0.1:" in output and "already in use" in output
    [entry] = json.loads((results / "summary.json").read_text(encoding="utf-8"))["scenarios"]
    assert "llm_request" not in entry["operations"], "no load went to the foreign server"
