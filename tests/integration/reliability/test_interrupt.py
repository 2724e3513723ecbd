"""Ctrl-C and SIGTERM: runners stop within a bounded time, what the run started is cancelled and
cleaned up, results are written from what was recorded, and the exit code is non-zero. A second
Ctrl-C exits at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kfp
import pytest

from perf_tests.server import EmbeddedKfpServer, SimulatorConfig

REPO = Path(__file__).resolve().parents[3]
# Runs of 3 tasks x 5 s: they are all still running when the interrupt comes.
SLOW_RUNS = SimulatorConfig(task_seconds=5.0, pending_seconds=0.1, canceling_seconds=0.1)


def start_run(tmp_path: Path, server: EmbeddedKfpServer) -> tuple[subprocess.Popen[str], Path]:
    scenario = tmp_path / "long.json"
    scenario.write_text(json.dumps([
        {"mode": "PIPELINE_RUN", "name": "long", "startTime": 0, "runTime": "5m", "numTimes": 3,
         "pollInterval": "200ms"},
    ]))
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_"))}
    env.update(API_HOST="127.0.0.1", API_PORT=str(server.port), PERF_RESULTS_DIR=str(results))
    proc = subprocess.Popen([sys.executable, "-m", "perf_tests", "run", str(scenario)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, results


def wait_for_events(results: Path, operation: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    events = results / "events.jsonl"
    while time.monotonic() < deadline:
        if events.exists():
            lines = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
            if sum(1 for e in lines if e.get("op") == operation) >= count:
                return
        time.sleep(0.05)  # polling a file another process writes
    raise AssertionError(f"no {count} {operation} events within {timeout}s")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_cancels_cleans_up_and_writes_results(tmp_path, signum):
    with EmbeddedKfpServer(SLOW_RUNS) as server:
        proc, results = start_run(tmp_path, server)
        try:
            wait_for_events(results, "create_run", 3)
            interrupted_at = time.monotonic()
            proc.send_signal(signum)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
        stopped_in = time.monotonic() - interrupted_at
        assert proc.returncode != 0
        assert stopped_in < 15
        assert "Traceback" not in stdout + stderr
        assert "the run was interrupted; its results are complete (summary.json, report.html)" in stderr
        summary = json.loads((results / "summary.json").read_text())
        assert summary["interrupted"] is True
        assert summary["passed"] is False
        long = summary["scenarios"][0]["operations"]
        assert long["create_run"]["count"] >= 3
        assert long["terminate_run"]["ok"] >= 3
        # Nothing the run created is left on the server (default clean-up: everything it created).
        client = kfp.Client(host=server.url)
        try:
            assert not (client.list_runs(page_size=100).runs or [])
            assert not [p for p in client.list_pipelines(page_size=100).pipelines or [] if "long" in p.display_name]
        finally:
            client._run_api.api_client.rest_client.pool_manager.clear()


def test_second_interrupt_exits_at_once(tmp_path):
    with EmbeddedKfpServer(SLOW_RUNS, latency_ms=3000) as server:
        server.configure(latency_ms=0)
        proc, results = start_run(tmp_path, server)
        try:
            wait_for_events(results, "create_run", 1)
            server.configure(latency_ms=3000)  # clean-up calls now take long: the first Ctrl-C waits for them
            proc.send_signal(signal.SIGINT)
            assert proc.stderr is not None
            for line in proc.stderr:  # the first interrupt has been handled once it says so
                if "press Ctrl-C again" in line:
                    break
            second_at = time.monotonic()
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)
        finally:
            proc.kill()
        assert proc.returncode == 130
        assert time.monotonic() - second_at < 3
