"""Prometheus over each entry's window, against the embedded KFP simulator's /metrics, with PerfSession.

A RANDOM_GETS entry with the ``kfp`` preset: the simulator's request rate as Prometheus saw it matches the
entry's own measured rate within 10%. Bad cases fail before any load, in seconds: unreachable Prometheus,
its 401, a PromQL syntax error; a query that returns nothing is "no data", never zero.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_helpers import wait_scraped

from perf_tests.config.settings import ConnectionSettings, PrometheusSettings, ResultsSettings, Settings
from perf_tests.errors import TargetError
from perf_tests.observability.local_prometheus import LocalPrometheus, free_port
from perf_tests.reports import validate_summary
from perf_tests.server import EmbeddedKfpServer
from perf_tests.session.session import PerfSession

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def scraped_simulator(prometheus: LocalPrometheus) -> EmbeddedKfpServer:
    """A simulator of this module's own (no other test's traffic in its counters), scraped at 1 s."""
    with EmbeddedKfpServer() as server:
        address = urlsplit(server.url).netloc
        prometheus.add_target("ml-pipeline", address)
        wait_scraped(prometheus, "ml-pipeline")
        yield server


def _session(tmp_path: Path, entries: Any, server_url: str, prometheus_url: str,
             token: str | None = None) -> PerfSession:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    parts = urlsplit(server_url)
    settings = Settings(
        connection=ConnectionSettings(API_HOST=parts.hostname, API_PORT=parts.port),
        results=ResultsSettings(PERF_CLEANUP="all"),
        prometheus=PrometheusSettings(PROMETHEUS_URL=prometheus_url, PROMETHEUS_TOKEN=token, PROMETHEUS_TIMEOUT=5),
    )
    return PerfSession(scenario=path, settings=settings, data_dir=REPO / "test_data",
                       results_dir=tmp_path / "results", console_logging=False)


def test_kfp_preset_sees_the_entry_s_own_request_rate(tmp_path, prometheus, scraped_simulator):
    entries = {
        "prometheus": {"step": "1s", "rateWindow": "3s", "presets": ["kfp"]},
        "entries": [{"mode": "RANDOM_GETS", "name": "reads", "startTime": 0, "runTime": "10s", "rate": 40,
                     "thresholds": ["max(prom:request_rate) > 20", "max(prom:mysql_connections) < 1"]}],
    }
    outcome = _session(tmp_path, entries, scraped_simulator.url, prometheus.url).run()
    part = outcome.summary["scenarios"][0]
    measured = part["totals"]["count"] / part["duration_s"]
    stored = json.loads((outcome.results_dir / "prometheus" / "reads.json").read_text())
    window = stored["windows"][0]
    rate = next(q for q in window["queries"] if q["name"] == "request_rate")
    # Samples whose 3-s rate window lies inside the entry's window (the first and last ones straddle its edges).
    inside = [v for t, v in rate["series"][0]["values"] if window["start"] + 4 <= t <= window["end"] - 1]
    assert inside, rate
    seen = sum(inside) / len(inside)
    assert abs(seen - measured) <= 0.1 * measured, (seen, measured, inside)
    # The simulator's gauges come through the same preset (runs by state, request latency per method).
    queries = part["prometheus"]["queries"]
    assert queries["runs_by_state"]["status"] == "ok"
    assert queries["latency_p95_by_method"]["status"] == "ok"
    # No MySQL here: "no data", and the threshold on it fails saying so instead of passing on a zero.
    assert queries["mysql_connections"]["status"] == "no_data"
    assert queries["mysql_connections"]["aggregate"] is None
    checks = {c["name"]: c for c in part["verdict"]["checks"]}
    assert checks["max(prom:request_rate) > 20"]["passed"]
    mysql = checks["max(prom:mysql_connections) < 1"]
    assert not mysql["passed"]
    assert "no data" in mysql["message"]
    # The published summary schema knows the prometheus part, prom:<query> thresholds and the harness.
    assert validate_summary(json.loads((outcome.results_dir / "summary.json").read_text())) == []
    assert outcome.summary["harness"]["samples"], outcome.summary["harness"]
    assert "reads" in outcome.summary["harness"]["loop_lag_p99_ms"]
    html = (outcome.results_dir / "report.html").read_text(encoding="utf-8")
    assert "Prometheus: request_rate (every 1s)" in html and "prom:mysql_connections" in html


def _fails_before_load(session: PerfSession) -> tuple[str, float]:
    began = time.monotonic()
    with pytest.raises(TargetError) as caught:
        session.run()
    return str(caught.value), time.monotonic() - began


READS = [{"mode": "RANDOM_GETS", "name": "reads", "startTime": 0, "runTime": "30s", "rate": 5,
          "prometheus": {"queries": {"broken": "sum(rate(grpc_server_handled_total[1m])"}}}]


def test_a_promql_syntax_error_stops_the_run_before_the_load(tmp_path, prometheus, kfp_server):
    message, seconds = _fails_before_load(_session(tmp_path, READS, kfp_server.url, prometheus.url))
    assert "entry 'reads', prometheus query 'broken'" in message
    assert "parse error" in message
    assert seconds < 10
    assert not (tmp_path / "results" / "summary.json").exists() or \
        json.loads((tmp_path / "results" / "summary.json").read_text())["scenarios"][0]["totals"]["count"] == 0


def test_an_unreachable_prometheus_stops_the_run_before_the_load(tmp_path, kfp_server):
    entries = [{**READS[0], "prometheus": {"presets": ["kfp"]}}]
    url = f"http://127.0.0.1:{free_port()}"
    message, seconds = _fails_before_load(_session(tmp_path, entries, kfp_server.url, url))
    assert f"Prometheus at {url} is unreachable" in message
    assert "PROMETHEUS_URL" in message
    assert seconds < 10


def test_a_401_names_the_token_settings_and_never_the_token(tmp_path, prometheus_with_auth, kfp_server):
    entries = [{**READS[0], "prometheus": {"presets": ["vllm"]}}]
    session = _session(tmp_path, entries, kfp_server.url, prometheus_with_auth.url, token="s3cr3t-token-value")
    message, seconds = _fails_before_load(session)
    assert "answered HTTP 401" in message
    assert "PROMETHEUS_TOKEN" in message
    assert "s3cr3t-token-value" not in message
    assert seconds < 10
    for path in (tmp_path / "results").rglob("*"):
        if path.is_file():
            assert "s3cr3t-token-value" not in path.read_text(errors="replace"), path


def test_without_prometheus_url_no_query_is_made_and_the_report_says_so(tmp_path, kfp_server):
    entries = [{"mode": "RANDOM_GETS", "name": "reads", "startTime": 0, "runTime": "2s", "rate": 5,
                "prometheus": {"presets": ["kfp"]}}]
    outcome = _session(tmp_path, entries, kfp_server.url, "").run()
    observed = outcome.summary["scenarios"][0]["prometheus"]
    assert observed["status"] == "not_configured"
    assert "PROMETHEUS_URL is not set" in observed["message"]
    assert not (outcome.results_dir / "prometheus").exists()
    assert "PROMETHEUS_URL is not set: no Prometheus query was made" in \
        (outcome.results_dir / "report.html").read_text(encoding="utf-8")


def test_a_saturated_generator_fails_strict_entries_and_warns_on_the_others(tmp_path, kfp_server):
    """PERF_HARNESS_LATENESS_MS at 1 us: any real send lateness counts as saturation."""
    entries = [{"mode": "RANDOM_GETS", "name": "strict", "startTime": 0, "runTime": "3s", "rate": 20,
                "strictHarness": True},
               {"mode": "RANDOM_GETS", "name": "lenient", "startTime": 0, "runTime": "3s", "rate": 20}]
    session = _session(tmp_path, entries, kfp_server.url, "")
    session.settings.results.harness_lateness_ms = 0.001
    outcome = session.run()
    harness = outcome.summary["harness"]
    assert harness["saturated"], harness
    assert any("send lateness p99" in reason for reason in harness["reasons"])
    strict, lenient = outcome.summary["scenarios"]
    assert not outcome.verdict("strict").passed
    assert [c["name"] for c in strict["verdict"]["checks"] if not c["passed"]] == ["harness"]
    assert outcome.verdict("lenient").passed
    assert any("the load generator was saturated" in note for note in lenient["notes"])
    assert "The load generator was saturated" in (outcome.results_dir / "report.html").read_text(encoding="utf-8")
