"""PERF_RESULTS_URL for scaled-out runs against moto: the merged results directory of ``merge``, of the
``pytest -n 2`` controller and of ``run --pods`` goes up as a one-process run's does (the shards never upload
on their own), and the scenario file's ``latest`` pointer moves to the merged run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perf_tests.cli import main
from tests.integration.scaleout import test_pods
from tests.integration.storage.test_results_upload import keys, local_files, scenario_file

ROOT = Path(__file__).resolve().parents[3]
fake_cluster = test_pods.cluster  # the fake Kubernetes API whose pods run the shards


@pytest.fixture
def shard_env(s3_env: Any, kfp_server: Any, bucket: str) -> dict[str, str]:
    """The environment of a shard or controller process: the session's simulator, uploads to the bucket."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "API_HOST": "127.0.0.1", "API_PORT": str(kfp_server.port),
            "PERF_RESULTS_URL": f"s3://{bucket}/nightly", "LOG_LEVEL": "WARNING"}


def _check_uploaded(client: Any, bucket: str, merged: Path) -> None:
    """One run in the bucket: the merged folder, file for file, and the latest pointer at it."""
    run_id = json.loads((merged / "summary.json").read_text(encoding="utf-8"))["run_id"]
    assert {key.split("/")[1] for key in keys(client, bucket, "nightly/")} == {run_id, "latest"}
    uploaded = {key.split("/", 2)[2] for key in keys(client, bucket, f"nightly/{run_id}/")}
    assert uploaded == set(local_files(merged))
    assert "summary.json" in uploaded
    assert {key.split("/")[0] for key in uploaded if "/" in key} >= {"shard-0", "shard-1"}  # each shard's own
    summary = client.get_object(Bucket=bucket, Key=f"nightly/{run_id}/summary.json")["Body"].read()
    assert summary == (merged / "summary.json").read_bytes()
    pointer = json.loads(client.get_object(Bucket=bucket, Key="nightly/latest/nightly.json")["Body"].read())
    assert pointer["run_id"] == run_id


def test_merge_uploads_the_merged_run(s3_env: Any, shard_env: dict[str, str], bucket: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = scenario_file(tmp_path)
    start_at = f"{time.time() + 4:.3f}"
    shards = [subprocess.Popen([sys.executable, "-m", "perf_tests", "run", str(scenario), "--shard", f"{i}/2",
                                "--start-at", start_at, "--barrier", str(tmp_path / "barrier"), "--results-dir",
                                str(tmp_path / f"s{i}")], cwd=ROOT, env=shard_env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for i in range(2)]  # fmt: skip
    for shard in shards:
        _, err = shard.communicate(timeout=120)
        assert shard.returncode == 0, err[-2000:]
    client = s3_env.client()
    assert keys(client, bucket) == [], "a shard never uploads on its own"

    monkeypatch.setenv("PERF_RESULTS_URL", shard_env["PERF_RESULTS_URL"])
    assert main(["merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "merged")]) == 0
    assert "points at it" in capsys.readouterr().out
    _check_uploaded(client, bucket, tmp_path / "merged")


def test_the_xdist_controller_uploads_the_merged_run(s3_env: Any, shard_env: dict[str, str], bucket: str,
                                                     tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "test_performance.py",
                           "--scenario", str(scenario_file(tmp_path)), "--perf-results-dir", str(tmp_path / "xdist"),
                           "--perf-shard-lead", "2"], cwd=ROOT, env=shard_env, capture_output=True, text=True,
                          timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "scale-out: 2 shards, merged" in done.stdout
    assert "points at it" in done.stdout, done.stdout[-2000:]
    _check_uploaded(s3_env.client(), bucket, tmp_path / "xdist")


def test_a_pods_run_uploads_the_merged_run(s3_env: Any, bucket: str, tmp_path: Path,
                                           fake_cluster: tuple[Any, dict[str, str]]) -> None:
    """``run --pods 2`` (the nightly CronJob's command) on the fake Kubernetes API."""
    _, env = fake_cluster
    env = {**env, **{key: value for key, value in os.environ.items() if key.startswith(("AWS_", "PERF_S3_"))},
           "PERF_RESULTS_URL": f"s3://{bucket}/nightly"}
    done = subprocess.run([sys.executable, "-m", "perf_tests", "run", str(scenario_file(tmp_path)), "--pods", "2",
                           "--results-dir", str(tmp_path / "merged")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "points at it" in done.stdout, done.stdout[-2000:]
    client = s3_env.client()
    merged = tmp_path / "merged"
    _check_uploaded(client, bucket, merged)
    # Each pod uploaded its results directory to <prefix>/<run_id>/shard-<i>/ and the controller fetched them:
    # the merged events are every shard's events, in shard order.
    run_id = json.loads((merged / "summary.json").read_text(encoding="utf-8"))["run_id"]
    shard_events = [(merged / f"shard-{index}" / "events.jsonl").read_bytes() for index in range(2)]
    assert all(events.strip() for events in shard_events)
    assert (merged / "events.jsonl").read_bytes() == b"".join(shard_events)
    for index in range(2):
        assert f"nightly/{run_id}/shard-{index}/run.json" in keys(client, bucket, f"nightly/{run_id}/shard-{index}/")
    assert "note" not in json.loads((merged / "summary.json").read_text(encoding="utf-8"))["scaleout"]
    rebuilt = subprocess.run([sys.executable, "-m", "perf_tests", "report", str(merged)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    # merge of the pods' shard folders names the latest pointer after the scenario file, as a one-process run
    remerged = subprocess.run([sys.executable, "-m", "perf_tests", "merge", str(merged / "shard-0"),
                               str(merged / "shard-1"), "--out", str(tmp_path / "remerged")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert remerged.returncode == 0, remerged.stderr[-3000:]
    assert "nightly/latest/nightly.json points at it" in remerged.stdout, remerged.stdout[-2000:]
    assert keys(client, bucket, "nightly/latest/") == ["nightly/latest/nightly.json"]
