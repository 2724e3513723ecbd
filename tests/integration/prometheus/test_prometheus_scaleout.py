"""Prometheus and the generator's health in a scaled-out run: ``pytest -n 2`` and two ``run --shard`` plus ``merge``.

A real Prometheus scrapes the simulator's /metrics at 1 s; the merge (the xdist controller, the ``merge``
command) queries it once over the merged entry's window, stores ``prometheus/<entry>.json`` and judges
``prom:`` thresholds as a one-process run does. The shards only check the queries at their start. Each
shard's load-generator health is in the merged summary, per shard and as the worst of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from perf_tests.observability.local_prometheus import LocalPrometheus
from perf_tests.server import EmbeddedKfpServer
from tests.integration.prometheus_helpers import instant, wait_scraped

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
RATE, SECONDS = 40, 8
SCENARIO = [{"mode": "RANDOM_GETS", "name": "reads", "startTime": 0, "runTime": f"{SECONDS}s", "rate": RATE,
             "endpoints": {"healthz": 1},
             "prometheus": {"step": "1s", "rateWindow": "3s", "queries": {
                 "request_rate": 'sum(rate(kfp_simulator_http_requests_total{route=~".*healthz"}[$rate]))',
                 "silent": "sum(no_such_metric_anywhere)"}},
             "thresholds": ["max(prom:request_rate) > 20", "count(healthz) == 320"]}]


@pytest.fixture(scope="module")
def scraped(prometheus: LocalPrometheus) -> Iterator[EmbeddedKfpServer]:
    """A simulator of this module's own (its own process, so no other test's traffic), scraped at 1 s."""
    with EmbeddedKfpServer(isolation="process") as server:
        prometheus.add_target("scaleout-sim", urlsplit(server.url).netloc)
        wait_scraped(prometheus, "scaleout-sim")
        yield server


def _env(server: EmbeddedKfpServer, prometheus_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROMETHEUS_")}
    env.update({"PYTHONPATH": str(ROOT), "API_HOST": "127.0.0.1", "API_PORT": str(server.port),
                "PERF_PROGRESS_INTERVAL": "60", "LOG_LEVEL": "WARNING"})
    if prometheus_url:
        env["PROMETHEUS_URL"] = prometheus_url
    return env


def _check(directory: Path, shards: int = 2) -> dict[str, Any]:
    """The merged summary's Prometheus part, stored series and per-shard health."""
    summary: dict[str, Any] = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    part = summary["scenarios"][0]
    checks = {check["name"]: check for check in part["verdict"]["checks"]}
    assert checks["max(prom:request_rate) > 20"]["passed"], checks
    assert checks["max(prom:request_rate) > 20"]["measured"] > 20
    observed = part["prometheus"]
    assert observed["status"] == "ok"
    assert observed["queries"]["request_rate"]["status"] == "ok"
    assert observed["queries"]["silent"]["status"] == "no_data"
    stored = json.loads((directory / "prometheus" / "reads.json").read_text(encoding="utf-8"))
    window = stored["windows"][0]
    # The merged entry's window: from the first shard's start to the last one's end, on the shared clock.
    assert window["end"] - window["start"] >= SECONDS - 0.5
    rate = next(q for q in window["queries"] if q["name"] == "request_rate")
    inside = [v for t, v in rate["series"][0]["values"] if window["start"] + 4 <= t <= window["end"] - 1]
    assert inside and abs(sum(inside) / len(inside) - RATE) <= 0.15 * RATE, inside  # both shards' requests
    assert summary["targets"]["prometheus"]["url"] == observed["url"]
    # Each shard queried nothing over its windows (only the merge did), and its own summary says so.
    for index in range(shards):
        assert not (directory / f"shard-{index}" / "prometheus").exists()
        own = json.loads((directory / f"shard-{index}" / "summary.json").read_text(encoding="utf-8"))
        assert own["scenarios"][0]["prometheus"]["status"] == "deferred"
    health = [shard["harness"] for shard in summary["scaleout"]["per_shard"]]
    assert all(h["cpu_max"] is not None and h["samples"] == [] for h in health), health
    merged = summary["harness"]
    assert merged["shards"] == ["0/2", "1/2"]
    assert merged["cpu_max"] == max(h["cpu_max"] for h in health)
    assert merged["lateness_p99_ms"]["reads"] == max(h["lateness_p99_ms"]["reads"] for h in health)
    page = (directory / "report.html").read_text(encoding="utf-8")
    assert "Prometheus: request_rate (every 1s)" in page and "Load generator per shard" in page
    return summary


def test_pytest_n_2_judges_prom_thresholds_on_the_merged_window(tmp_path: Path, prometheus: LocalPrometheus,
                                                                scraped: EmbeddedKfpServer) -> None:
    scenario = tmp_path / "reads.json"
    scenario.write_text(json.dumps(SCENARIO), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "test_performance.py",
                           "--scenario", str(scenario), "--perf-results-dir", str(tmp_path / "xdist"),
                           "--perf-shard-lead", "3"], cwd=ROOT, env=_env(scraped, prometheus.url),
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    assert "scale-out: 2 shards, merged" in done.stdout
    assert "load generator CPU max" in done.stdout
    _check(tmp_path / "xdist")


def test_merge_queries_the_prometheus_the_shards_had(tmp_path: Path, prometheus: LocalPrometheus,
                                                     scraped: EmbeddedKfpServer) -> None:
    """The shards had PROMETHEUS_URL, the merge has not: it queries the shards' (shard.json carries its URL)."""
    scenario = tmp_path / "reads.json"
    scenario.write_text(json.dumps(SCENARIO), encoding="utf-8")
    start_at = f"{time.time() + 4:.3f}"
    shards = [subprocess.Popen([sys.executable, "-m", "perf_tests", "run", str(scenario), "--shard", f"{i}/2",
                                "--start-at", start_at, "--barrier", str(tmp_path / "barrier"), "--results-dir",
                                str(tmp_path / f"s{i}")], cwd=ROOT, env=_env(scraped, prometheus.url),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for shard in shards:
        _, err = shard.communicate(timeout=120)
        assert shard.returncode == 0, err[-2000:]
    merged = subprocess.run([sys.executable, "-m", "perf_tests", "merge", str(tmp_path / "s0"), str(tmp_path / "s1"),
                             "--out", str(tmp_path / "merged")], cwd=ROOT, env=_env(scraped, None),
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert merged.returncode == 0, merged.stderr[-3000:]
    _check(tmp_path / "merged")
    # Without a Prometheus anywhere, the merged entry says so and its prom: threshold cannot pass.
    for index in range(2):
        path = tmp_path / f"s{index}" / "shard.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        document["prometheus"] = None
        path.write_text(json.dumps(document), encoding="utf-8")
    unobserved = subprocess.run([sys.executable, "-m", "perf_tests", "merge", str(tmp_path / "s0"),
                                 str(tmp_path / "s1"), "--out", str(tmp_path / "unobserved")], cwd=ROOT,
                                env=_env(scraped, None), capture_output=True, text=True, timeout=120,
                                check=False)  # fmt: skip
    assert unobserved.returncode == 1, unobserved.stderr[-3000:]
    part = json.loads((tmp_path / "unobserved" / "summary.json").read_text(encoding="utf-8"))["scenarios"][0]
    assert part["prometheus"]["status"] == "not_configured"
    assert "max(prom:request_rate) > 20" in unobserved.stderr


def test_the_merged_llm_universal_report_has_the_merged_series(tmp_path: Path, prometheus: LocalPrometheus,
                                                               scraped: EmbeddedKfpServer) -> None:
    """A merged LLM_LOAD entry (no runner runs in the merge) gets its llm-d universal report from the shards'
    GuideLLM results, with the series the merge queried over the merged window in results.observability."""
    from perf_tests.config.settings import PrometheusSettings
    from perf_tests.llm.results.universal_report import validate_universal_report
    from perf_tests.observability.models import EntryQueries
    from perf_tests.scaleout.merge import merge_results
    from tests.unit.scaleout.test_merge import _shard

    up = 'sum(up{job="scaleout-sim"})'
    queries = {"llm": EntryQueries(step=1.0, expressions={"running": up, "kv_cache": f"{up} * 0.25"})}
    deadline = time.monotonic() + 30  # until the last 4 s are scraped (the fixture waited for two scrapes only)
    while not instant(prometheus, 'count_over_time(up{job="scaleout-sim"}[4s]) >= 4'):
        assert time.monotonic() < deadline, "prometheus did not scrape the simulator four times in 4s"
        time.sleep(0.25)
    at = time.time() - 3  # the entry ran at .. at + 2: every second of it scraped
    results = [_shard(tmp_path, index, at=at, queries=queries) for index in range(2)]
    outcome = merge_results(results, tmp_path / "merged", prometheus=PrometheusSettings(PROMETHEUS_URL=prometheus.url))
    assert outcome.passed, [c.message for v in outcome.verdicts for c in v.failures()]
    report = json.loads((tmp_path / "merged" / "llm" / "benchmark_report.json").read_text(encoding="utf-8"))
    assert validate_universal_report(report) == []
    part = outcome.document.part("llm")
    assert part is not None and part.prometheus is not None
    assert part.prometheus.status == "ok", part.prometheus
    component = report["results"]["observability"]["components"][0]
    assert component["raw_data_path"] == "prometheus/llm.json"
    assert (tmp_path / "merged" / component["raw_data_path"]).is_file()
    running = component["time_series"]["num_requests_running"]["series"]
    kv_cache = component["time_series"]["kv_cache_usage"]["series"]
    assert len(running) >= 2 and {point["value"] for point in running} == {1.0}
    assert {point["value"] for point in kv_cache} == {25.0}  # vLLM's fraction as a percentage
    stored = json.loads((tmp_path / "merged" / "prometheus" / "llm.json").read_text(encoding="utf-8"))
    assert (stored["windows"][0]["start"], stored["windows"][0]["end"]) == (at, at + 2)  # the merged window
