"""A target that trickles one byte at a time cannot keep a run going: every kfp and Kubernetes call has a
total deadline, SIGTERM ends a run in bounded time also while it prepares, and the process exits after a
hung entry is reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from trickle_server import TrickleServer

from perf_tests.errors import TargetError
from perf_tests.tekton.client import TektonClient
from perf_tests.tekton.settings import TektonSettings

REPO = Path(__file__).resolve().parents[3]
HEALTHZ = {"/apis/v2beta1/healthz": {"commit_sha": "trickle", "multi_user": False}}
ENTRY = {"mode": "PIPELINE_RUN", "name": "slow", "startTime": 0, "runTime": "2s", "numTimes": 1,
         "pollInterval": "200ms"}


def start_run(tmp_path: Path, port: int, *, under_pytest: bool = False,
              **env_extra: str) -> tuple[subprocess.Popen[str], Path]:  # fmt: skip
    """``python -m perf_tests run`` (or the pytest entry point, ``test_performance.py``) on one entry."""
    scenario = tmp_path / "slow.json"
    scenario.write_text(json.dumps([ENTRY]))
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "REQUEST_"))}
    env.update(API_HOST="127.0.0.1", API_PORT=str(port), PERF_RESULTS_DIR=str(results), **env_extra)
    command = [sys.executable, "-m", "perf_tests", "run", str(scenario)]
    if under_pytest:
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_performance.py",
                   "--scenario", str(scenario)]  # fmt: skip
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, results


def wait_for_request(server: TrickleServer, timeout: float = 30.0) -> str:
    """The first request past the health check (the run is in ``prepare``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = [r for r in server.requests if "healthz" not in r]
        if calls:
            return calls[0]
        time.sleep(0.05)  # polling what another process sends
    raise AssertionError(f"no call past the health check within {timeout}s: {server.requests}")


def test_a_run_against_a_trickling_target_ends(tmp_path):
    with TrickleServer(interval=0.5, fast=HEALTHZ) as server:
        proc, results = start_run(tmp_path, server.port, REQUEST_TIMEOUT="1", PERF_STOP_GRACE="3")
        try:
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 1, stderr[-2000:]
    assert "Traceback" not in stdout + stderr
    part = json.loads((results / "summary.json").read_text())["scenarios"][0]
    assert part["status"] in {"error", "hung"}
    errors = {kind for op in part["operations"].values() for kind in op["errors"]}
    assert errors == {"timeout"}
    assert "total deadline of 1s (REQUEST_TIMEOUT)" in (results / "events.jsonl").read_text()


def test_sigterm_while_preparing_ends_the_run_in_bounded_time(tmp_path):
    with TrickleServer(interval=0.5, fast=HEALTHZ) as server:
        # Calls would take 60 s each: only cutting them short on the interrupt ends the run quickly.
        proc, results = start_run(tmp_path, server.port, REQUEST_TIMEOUT="60", PERF_STOP_GRACE="3")
        try:
            wait_for_request(server)
            interrupted_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
        stopped_in = time.monotonic() - interrupted_at
    assert stopped_in < 3 + 4  # the stop grace and the writing of results
    assert proc.returncode == 1
    assert "Traceback" not in stdout + stderr
    summary = json.loads((results / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert summary["passed"] is False


@pytest.fixture
def trickling_kube(tmp_path):
    with TrickleServer(interval=0.2) as server:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "trickle",
            "clusters": [{"name": "trickle", "cluster": {"server": server.url}}],
            "contexts": [{"name": "trickle", "context": {"cluster": "trickle", "user": "u"}}],
            "users": [{"name": "u", "user": {"token": "kube-token-secret"}}],
        }))
        settings = TektonSettings(KUBECONFIG=str(kubeconfig), K8S_IN_CLUSTER="false", TEKTON_REQUEST_TIMEOUT=1)
        client = TektonClient.connect(settings)
        try:
            yield client, server
        finally:
            client.close()


def test_a_kubernetes_call_to_a_trickling_api_ends_at_its_total_deadline(trickling_kube):
    client, server = trickling_kube
    started = time.monotonic()
    with pytest.raises(TargetError, match=r"did not get pipelineruns within 1s \(TEKTON_REQUEST_TIMEOUT"):
        client.get_pipelinerun("x")
    assert time.monotonic() - started < 2.5
    assert len(server.requests) == 1  # not retried


def test_reading_a_pod_log_from_a_trickling_api_ends_at_its_total_deadline(trickling_kube):
    client, _ = trickling_kube
    started = time.monotonic()
    with pytest.raises(TargetError, match="did not get pods/log within 1s"):
        client.read_log("pod", "main")
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("under_pytest", [False, True], ids=["perf_tests-run", "pytest"])
def test_the_process_exits_after_a_hung_entry_is_reported(tmp_path, under_pytest):
    """A poll that hangs (the server never answers) outlasts the stop grace: the entry is reported hung and
    the process exits instead of waiting at interpreter exit for the call's 60 s deadline, whether the run
    is ``python -m perf_tests run`` or pytest's ``test_performance.py``."""
    from perf_tests.server import EmbeddedKfpServer, SimulatorConfig

    with EmbeddedKfpServer(SimulatorConfig(task_seconds=30.0)) as server:
        proc, results = start_run(tmp_path, server.port, under_pytest=under_pytest, REQUEST_TIMEOUT="60",
                                  PERF_STOP_GRACE="1")  # fmt: skip
        try:
            events = results / "events.jsonl"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (events.exists() and '"op":"create_run"' in events.read_text()):
                time.sleep(0.05)  # polling a file another process writes
            server.configure(hang_probability=1.0)  # from now on no call is answered
            hung_from = time.monotonic()
            stdout, stderr = proc.communicate(timeout=45)
        finally:
            proc.kill()
        exited_in = time.monotonic() - hung_from
    assert proc.returncode == 1, stderr[-2000:]
    assert exited_in < 2 + 1 + 15  # the rest of the run time, the grace, writing the results (and pytest's)
    assert "exiting although slow did not stop (reported as hung)" in stderr
    if under_pytest:
        assert "1 failed" in stdout, stdout[-2000:]
    else:
        assert "Traceback" not in stdout + stderr
    part = json.loads((results / "summary.json").read_text())["scenarios"][0]
    assert part["status"] == "hung"


EVERY_KFP_MODE = [
    {"mode": "PIPELINE_RUN", "name": "run", "startTime": 0, "runTime": "3s", "numTimes": 2, "pollInterval": "200ms"},
    {"mode": "EXPERIMENT", "name": "experiment", "startTime": 0, "runTime": "3s", "numTimes": 2},
    {"mode": "PIPELINE_UPLOAD", "name": "upload", "startTime": 0, "runTime": "3s", "numTimes": 4},
    {"mode": "PIPELINE_SCHEDULED_RUN", "name": "scheduled", "startTime": 0, "runTime": "3s",
     "cron": "0 * * * * *", "pollInterval": "200ms"},
    {"mode": "RANDOM_GETS", "name": "gets", "startTime": 0, "runTime": "3s", "rate": 5},
]


def test_every_kfp_mode_against_a_trickling_target_ends_with_timeouts(tmp_path):
    """The class, not one instance: a mode that makes a call without a total deadline hangs here."""
    scenario = tmp_path / "all.json"
    scenario.write_text(json.dumps(EVERY_KFP_MODE))
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "REQUEST_"))}
    env.update(API_HOST="127.0.0.1", PERF_RESULTS_DIR=str(results), REQUEST_TIMEOUT="1", PERF_STOP_GRACE="5")
    with TrickleServer(interval=0.3, fast=HEALTHZ) as server:
        env["API_PORT"] = str(server.port)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "perf_tests", "run", str(scenario)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert took < 60
    parts = {part["name"]: part for part in json.loads((results / "summary.json").read_text())["scenarios"]}
    assert set(parts) == {entry["name"] for entry in EVERY_KFP_MODE}
    for name, part in parts.items():
        assert part["status"] != "hung", name
        errors = {kind for op in part["operations"].values() for kind in op["errors"]}
        assert errors <= {"timeout"}, (name, errors)
        assert part["totals"]["failed"] > 0, name
