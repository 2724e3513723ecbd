"""A stair-step LLM_LOAD against the real vLLM server, watched by a real Prometheus with the ``vllm`` preset.

PerfSession runs it end to end: the stored ``running`` series rises with the step's rate; a threshold on a
Prometheus series passes and an impossible one fails naming the measured value; report.html plots the
series on the load's time axis.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_helpers import wait_scraped
from vllm_server import VllmServer

from perf_tests.config.settings import PrometheusSettings, Settings
from perf_tests.observability.local_prometheus import LocalPrometheus
from perf_tests.session.session import PerfSession

pytestmark = [pytest.mark.vllm, pytest.mark.llm, pytest.mark.prometheus, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
STEPS = [{"rate": 1, "duration": "8s"}, {"rate": 8, "duration": "8s"}]


@pytest.fixture(scope="module")
def stairs(vllm_server: VllmServer, tiny_model_dir: Path, prometheus: LocalPrometheus,
           tmp_path_factory: pytest.TempPathFactory) -> Any:
    if importlib.util.find_spec("guidellm") is None:
        pytest.skip("GuideLLM is not installed (install the llm extra)")
    prometheus.add_target("vllm", urlsplit(vllm_server.url).netloc)
    wait_scraped(prometheus, "vllm")
    folder = tmp_path_factory.mktemp("vllm-prometheus")
    entry = {
        "mode": "LLM_LOAD", "name": "stairs", "startTime": 0, "targetUrl": vllm_server.url,
        "model": vllm_server.model, "tokenizer": str(tiny_model_dir), "requestFormat": "completions",
        "rateType": "constant", "stages": STEPS, "promptTokens": 32, "outputTokens": 64, "workers": 1,
        "startupLead": "20s",
        "prometheus": {"step": "1s", "rateWindow": "3s", "presets": ["vllm"]},
        "thresholds": ["max(prom:waiting) < 1000", "max(prom:running) > 1000"],
    }
    (folder / "scenario.json").write_text(json.dumps([entry]), encoding="utf-8")
    settings = Settings(prometheus=PrometheusSettings(PROMETHEUS_URL=prometheus.url))
    return PerfSession(scenario=folder / "scenario.json", settings=settings, data_dir=REPO / "test_data",
                       results_dir=folder / "results", console_logging=False).run()


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_running_rises_with_the_rate(stairs: Any) -> None:
    stored = json.loads((stairs.results_dir / "prometheus" / "stairs.json").read_text(encoding="utf-8"))
    stages = [w for w in stored["windows"] if w["kind"] == "stage"]
    assert len(stages) == 2
    running = []
    for window in stages:
        query = next(q for q in window["queries"] if q["name"] == "running")
        assert query["status"] == "ok", query
        running.append(_mean([v for s in query["series"] for _, v in s["values"] if v is not None]))
    assert running[1] > running[0], running
    tokens = stairs.summary["scenarios"][0]["prometheus"]["queries"]["tokens_per_s"]
    assert tokens["status"] == "ok" and tokens["aggregate"]["max"] > 0


def test_a_threshold_on_a_series_passes_and_an_impossible_one_fails_with_the_value(stairs: Any) -> None:
    checks = {c["name"]: c for c in stairs.summary["scenarios"][0]["verdict"]["checks"]}
    assert checks["max(prom:waiting) < 1000"]["passed"]
    impossible = checks["max(prom:running) > 1000"]
    assert not impossible["passed"]
    peak = stairs.summary["scenarios"][0]["prometheus"]["queries"]["running"]["aggregate"]["max"]
    assert f"measured {peak:g}" in impossible["message"], impossible["message"]


def test_the_report_draws_the_series_in_chromium(stairs: Any, tmp_path: Path) -> None:
    from test_report_browser import CHROMIUM, _assert_rendered, _render

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    checked, errors, png = asyncio.run(_render(stairs.results_dir / "report.html", tmp_path))
    _assert_rendered(checked, errors, png)
    titles = checked["titles"]
    assert "Prometheus: running (every 1s)" in titles, titles
    assert "Prometheus: waiting (every 1s)" in titles, titles
    assert any(title.startswith("Load generator: CPU") for title in titles), titles
    html = (stairs.results_dir / "report.html").read_text(encoding="utf-8")
    assert "prom:kv_cache" in html


def test_the_universal_report_carries_the_series_where_its_schema_has_fields(stairs: Any) -> None:
    from perf_tests.llm.results.universal_report import validate_universal_report

    report = json.loads((stairs.results_dir / "stairs" / "benchmark_report.json").read_text(encoding="utf-8"))
    assert validate_universal_report(report) == []
    component = report["results"]["observability"]["components"][0]
    running = component["time_series"]["num_requests_running"]
    assert running["units"] == "count" and len(running["series"]) >= 8
    assert component["time_series"]["kv_cache_usage"]["units"] == "percent"
    assert component["raw_data_path"] == "prometheus/stairs.json"
