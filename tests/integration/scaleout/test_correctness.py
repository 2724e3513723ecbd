"""One load, three ways: one process, ``pytest -n 2`` and two ``run --shard`` processes plus ``merge``.

Each gives the same counts; the merged percentiles are those of every request the shards recorded (within
the HDR histogram's precision); the merged arrival times are the one schedule ``t0 + k / rate``, with no
duplicate and no gap. The one-process and ``--shard`` runs load a simulator in a process of its own (so the
loads' processes do not share its GIL); the ``-n 2`` run has ``API_HOST`` unset, so its controller starts
one embedded simulator for both workers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perf_tests.recorder.event_codec import read_event_lines
from perf_tests.recorder.stats import new_histogram, to_us
from perf_tests.server import EmbeddedKfpServer

ROOT = Path(__file__).resolve().parents[3]
RATE, SECONDS = 40, 2
PLANNED = RATE * SECONDS
SCENARIO = [{"mode": "RANDOM_GETS", "name": "gets", "startTime": 0, "runTime": f"{SECONDS}s", "rate": RATE,
             "endpoints": {"healthz": 1}, "thresholds": ["p99(healthz) < 5s", "dropped == 0"]}]


@pytest.fixture(scope="module")
def target() -> Iterator[dict[str, str]]:
    """The environment of every load process: the shared simulator as API_HOST, every request an event."""
    with EmbeddedKfpServer(isolation="process") as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "API_HOST": "127.0.0.1", "API_PORT": str(server.port),
               "PERF_LOG_EVERY_REQUEST": "true", "PERF_PROGRESS_INTERVAL": "60", "LOG_LEVEL": "WARNING"}
        yield env


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _summary(directory: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    return document


def _healthz(summary: dict[str, Any]) -> dict[str, Any]:
    part = next(p for p in summary["scenarios"] if p["name"] == "gets")
    operation: dict[str, Any] = part["operations"]["healthz"]
    return operation


def _requests(events: Path) -> list[dict[str, Any]]:
    return [line for line in read_event_lines(events) if line.get("type") == "op" and line.get("op") == "healthz"]


def _check_schedule(requests: list[dict[str, Any]]) -> None:
    """The requests' due times are ``t0 + k / rate`` for k = 0 .. PLANNED-1: no duplicate, no gap."""
    due = sorted(request["t"] - request["attrs"]["lateness"] for request in requests)
    steps = [(when - due[0]) * RATE for when in due]
    assert sorted(round(step) for step in steps) == list(range(PLANNED))
    assert max(abs(step - round(step)) for step in steps) < 0.05


def _check_merged(directory: Path) -> None:
    """Counts, percentiles of every request, and the one schedule, in a merged results directory."""
    summary = _summary(directory)
    assert summary["passed"] is True, summary["scenarios"][0]["verdict"]
    operation = _healthz(summary)
    assert (operation["count"], operation["failed"]) == (PLANNED, 0)
    shards = [_requests(directory / f"shard-{index}" / "events.jsonl") for index in range(2)]
    assert [len(requests) for requests in shards] == [PLANNED // 2] * 2  # the rate split evenly
    requests = shards[0] + shards[1]
    assert len(_requests(directory / "events.jsonl")) == PLANNED  # the merged events are every shard's
    histogram = new_histogram()
    for request in requests:
        histogram.record_value(to_us(request["ms"] / 1000.0))
    for key, percentile in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99)):
        exact = histogram.get_value_at_percentile(percentile) / 1000.0
        assert math.isclose(operation[key], exact, rel_tol=2e-3, abs_tol=2e-3), (key, operation[key], exact)
    _check_schedule(requests)
    per_shard = summary["scaleout"]["per_shard"]
    assert [shard["entries"]["gets"]["operations"]["healthz"]["count"] for shard in per_shard] == [PLANNED // 2] * 2


def test_one_process_xdist_and_shards_give_the_same_counts(tmp_path: Path, target: dict[str, str]) -> None:
    scenario = tmp_path / "gets.json"
    scenario.write_text(json.dumps(SCENARIO), encoding="utf-8")

    one = _run(["-m", "perf_tests", "run", str(scenario), "--results-dir", str(tmp_path / "one")], target)
    assert one.returncode == 0, one.stderr[-2000:]
    assert (_healthz(_summary(tmp_path / "one"))["count"], _healthz(_summary(tmp_path / "one"))["failed"]) == (
        PLANNED, 0)
    _check_schedule(_requests(tmp_path / "one" / "events.jsonl"))  # the one schedule the shards split

    # API_HOST unset: the controller starts ONE embedded simulator for both workers.
    embedded = {key: value for key, value in target.items() if key not in ("API_HOST", "API_PORT")}
    xdist = _run(["-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "test_performance.py", "--scenario",
                  str(scenario), "--perf-results-dir", str(tmp_path / "xdist"), "--perf-shard-lead", "2"], embedded)
    assert xdist.returncode == 0, xdist.stdout[-3000:]
    assert "test_scenario[gets] PASSED" in xdist.stdout or "3 passed" in xdist.stdout, xdist.stdout[-2000:]
    assert "scale-out: 2 shards, merged" in xdist.stdout
    _check_merged(tmp_path / "xdist")
    targets = [_summary(tmp_path / "xdist" / f"shard-{index}")["targets"]["kfp"] for index in range(2)]
    assert targets[0]["kind"] == "embedded-kfp-simulator" and targets[0]["url"] == targets[1]["url"]

    barrier = tmp_path / "barrier"
    start_at = f"{time.time() + 4:.3f}"  # one absolute instant for both (the run id is derived from it)
    shards = [subprocess.Popen([sys.executable, "-m", "perf_tests", "run", str(scenario), "--shard", f"{i}/2",
                                "--start-at", start_at, "--barrier", str(barrier), "--results-dir",
                                str(tmp_path / f"s{i}")], cwd=ROOT, env=target, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for i in range(2)]
    for shard in shards:
        _, err = shard.communicate(timeout=120)
        assert shard.returncode == 0, err[-2000:]
    merged = _run(["-m", "perf_tests", "merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out",
                   str(tmp_path / "merged")], target)
    assert merged.returncode == 0, merged.stderr[-2000:]
    assert "scale-out: 2 shards, merged" in merged.stdout
    _check_merged(tmp_path / "merged")
    rebuilt = _run(["-m", "perf_tests", "report", str(tmp_path / "merged")], target)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]


def test_merge_of_one_shard_is_refused(tmp_path: Path, target: dict[str, str]) -> None:
    (tmp_path / "s0").mkdir()
    result = _run(["-m", "perf_tests", "merge", str(tmp_path / "s0"), "--out", str(tmp_path / "m")], target)
    assert result.returncode == 2
    assert "has no shard.json" in result.stderr and "Traceback" not in result.stderr
    bad = _run(["-m", "perf_tests", "run", "smoke.json", "--shard", "2/2"], target)
    assert bad.returncode == 2 and "--shard '2/2'" in bad.stderr
