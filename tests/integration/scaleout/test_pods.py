"""``run --pods N``: an Indexed Job on the fake Kubernetes API, whose pods really run the shards, merged here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_tests.scaleout.kube import JOB_PERMISSIONS
from perf_tests.server import EmbeddedKfpServer
from tests.integration.tekton.fake_kube import FAKE_TOKEN, Behaviour, FakeKube, write_kubeconfig

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = [{"mode": "RANDOM_GETS", "name": "gets", "startTime": 0, "runTime": "2s", "rate": 20,
             "endpoints": {"healthz": 1}, "thresholds": ["p99(healthz) < 5s"]}]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeKube, dict[str, str]]]:
    """The fake cluster (its pods reach a simulator on loopback) and the environment of a ``--pods`` run."""
    with EmbeddedKfpServer(isolation="process") as server, FakeKube(FAKE_TOKEN, Behaviour()) as kube:
        kube.behaviour.pod_env = {"PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": str(write_kubeconfig(
                   tmp_path / "kubeconfig", kube.url, FAKE_TOKEN, namespace="perf")),
               "TEKTON_NAMESPACE": "perf", "TEKTON_WATCH_TIMEOUT": "5", "SCALE_OUT_START_LEAD": "15",
               "SCALE_OUT_IMAGE": "registry.example/perf-tests:test", "API_HOST": "127.0.0.1",
               "API_PORT": str(server.port), "LOG_LEVEL": "WARNING"}
        env.pop("K8S_CONTEXT", None)
        env.pop("KUBERNETES_SERVICE_HOST", None)
        yield kube, env


def _scenario(tmp_path: Path, scenario: list[dict[str, object]]) -> Path:
    path = tmp_path / "gets.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def test_pods_run_is_an_indexed_job_merged_here(tmp_path: Path, cluster: tuple[FakeKube, dict[str, str]]) -> None:
    kube, env = cluster
    out = tmp_path / "merged"
    result = subprocess.run([sys.executable, "-m", "perf_tests", "run", str(_scenario(tmp_path, SCENARIO)),
                             "--pods", "2", "--results-dir", str(out)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "scale-out: 2 shards, merged" in result.stdout
    job = kube.created_jobs[0]
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 2
    assert job["spec"]["parallelism"] == 2 and job["spec"]["backoffLimit"] == 0
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/perf-tests:test"
    command = " ".join(container["command"])
    assert "--shard $(JOB_COMPLETION_INDEX)/2" in command and "--print-result" in command
    assert "--start-tolerance 10" in command and "--shard-upload" not in command  # no object storage here
    assert command.startswith("python -m perf_tests run /etc/perf-tests/gets.json ")  # mounted under its name
    assert {"name": "API_HOST", "value": "127.0.0.1"} in container["env"]  # the target is passed on
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    operation = summary["scenarios"][0]["operations"]["healthz"]
    assert (operation["count"], operation["failed"], summary["passed"]) == (40, 0, True)
    assert [s["entries"]["gets"]["totals"]["count"] for s in summary["scaleout"]["per_shard"]] == [20, 20]
    assert (out / "shard-0" / "shard.json").is_file() and (out / "shard-1" / "shard.json").is_file()
    # Without object storage the shards' events stayed in the pods: the merged run says so, not silently empty.
    note = summary["scaleout"]["note"]
    assert "events of shard(s) 0/2, 1/2 are not in this results directory" in note and "PERF_RESULTS_URL" in note
    assert f"note: {note}" in result.stdout
    assert "are not in this results directory" in (out / "report.html").read_text(encoding="utf-8")
    on_time = next(c for c in summary["scenarios"][0]["verdict"]["checks"] if c["name"] == "shards_on_time")
    assert on_time["passed"] and on_time["limit"] == 10  # the pods' bound (SCALE_OUT_START_TOLERANCE)
    assert not kube.jobs and not kube.configmaps  # cleaned up
    granted = {(p.api_group, p.resource, verb) for p in JOB_PERMISSIONS for verb in p.verbs}
    assert kube.used() <= granted  # nothing beyond deploy/scale-out/rbac.yaml's rules


def test_interrupt_deletes_the_job(tmp_path: Path, cluster: tuple[FakeKube, dict[str, str]]) -> None:
    kube, env = cluster
    long = [{**SCENARIO[0], "runTime": "5m"}]
    process = subprocess.Popen([sys.executable, "-m", "perf_tests", "run", str(_scenario(tmp_path, long)),
                                "--pods", "2", "--results-dir", str(tmp_path / "m")], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(kube.pods) < 2 and time.monotonic() < deadline:  # polling the fake's state, not a fixed sleep
        time.sleep(0.1)
    assert len(kube.pods) == 2
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Traceback" not in err
    assert not kube.jobs and not kube.pods and not kube.configmaps
