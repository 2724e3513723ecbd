"""The ``local-vllm`` stack's failure paths in a real run, with a stand-in server (a shell script) for vLLM.

Ctrl-C while the server starts stops the run in bounded time with nothing of the server's process group
left, and the record says so; a server that exits fails the entry with its last log lines. (The real
server, end to end, is ``tests/integration/vllm/test_stack_local_vllm.py``.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.llm


def _server(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "vllm-python"
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


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
    env = {**os.environ, "PYTHONPATH": str(REPO), "VLLM_PYTHON": str(python)}
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
    env = {**os.environ, "PYTHONPATH": str(REPO), "VLLM_PYTHON": str(python)}
    run = subprocess.run([sys.executable, "-m", "perf_tests", "run", str(_scenario(tmp_path)), "--results-dir",
                          str(results)], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 1
    assert "exited with code 3" in run.stderr + run.stdout
    assert "ValueError: the model does not fit" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
