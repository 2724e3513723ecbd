"""The three LLM_LOAD harnesses against the real vLLM server, one after the other: the shipped scenario
``llm_harness_compare.json`` with its ``targetUrl`` pointed at the session's server.

Each harness's own tool runs (GuideLLM; ``vllm bench serve`` from ``.venv-vllm``; inference-perf from
``.venv-inference-perf``), its native result is parsed into the same metric names, every request
succeeds with the tokens asked for, vLLM's own counters confirm the load, the universal report names the
tool, and what a harness does not measure is recorded as "not measured by <harness>", never as 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.llm.harnesses.venvs import REPO
from perf_tests.llm.results.recording import entry_results_dir
from tests.integration.vllm.vllm_server import VllmServer, metric_samples

pytestmark = [pytest.mark.vllm, pytest.mark.llm, pytest.mark.slow]

HARNESS_NAMES = ("guidellm", "vllm-bench", "inference-perf")
OUTPUT_TOKENS = 16


@pytest.fixture(scope="module")
def compare(vllm_server: VllmServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, float, float]:
    missing = REPO / ".venv-inference-perf" / "bin" / "python"
    if not missing.is_file():
        reason = f"{missing} is missing; create it with `make inference-perf-env` (make test does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from tests.integration.llm.llm_harness import DATA_DIR, run_entries

    entries = json.loads((DATA_DIR / "scenarios" / "llm_harness_compare.json").read_text(encoding="utf-8"))
    for entry in entries:
        entry["targetUrl"] = vllm_server.url
        entry["model"] = vllm_server.model
    before = metric_samples(vllm_server.url)["vllm:request_success_total"]
    run = run_entries(entries, tmp_path_factory.mktemp("harness-compare"))
    return run, before, metric_samples(vllm_server.url)["vllm:request_success_total"]


@pytest.mark.parametrize("harness", HARNESS_NAMES)
def test_each_harness_loads_vllm_and_reports_the_same_metric_names(compare: tuple[Any, float, float],
                                                                   harness: str) -> None:
    run = compare[0]
    assert run.results[harness].ok, run.results[harness].error
    external = run.recorder.scenarios[harness].external
    requests = external["requests"]
    assert requests["ok"] >= 5 and requests["failed"] == 0, requests
    assert requests["source"] == harness
    for name in ("ttft", "itl", "tpot", "request_latency"):
        assert external[name]["p50_ms"] > 0, (name, external[name])
        assert external[name]["p99_ms"] >= external[name]["p50_ms"]
    assert external["output_tokens"]["mean"] == OUTPUT_TOKENS
    assert 0.5 < requests["throughput"] < 8, requests  # poisson at 2 req/s for 8 s
    folder = entry_results_dir(run.results_dir, harness)
    universal = json.loads((folder / "benchmark_report.json").read_text(encoding="utf-8"))
    assert universal["scenario"]["load"]["standardized"]["tool"] == harness
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    if harness == "guidellm":
        assert external["request_scheduled_latency"]["p50_ms"] > 0
    else:
        assert external["request_scheduled_latency"] == {"not_measured": f"not measured by {harness}",
                                                         "source": harness}
        assert metrics["not_measured"] == {"request_scheduled_latency": f"not measured by {harness}"}


def test_inference_perf_delivers_the_offered_rate_over_its_load_window(compare: tuple[Any, float, float]) -> None:
    # Poisson at 2 req/s for 8 s: inference-perf's constant load sends exactly 16 requests over its 8 s stage
    # (its own per-second Poisson took 5 to 12 s for them), and its stage starts on the run's clock (the
    # hold is released the second early that it waits before its first request).
    run = compare[0]
    requests = run.recorder.scenarios["inference-perf"].external["requests"]
    assert requests["ok"] == 16, requests
    assert 1.8 <= requests["throughput"] <= 2.05, requests
    config = yaml.safe_load((entry_results_dir(run.results_dir, "inference-perf") / "inference-perf" / "config.yaml")
                            .read_text(encoding="utf-8"))
    assert config["load"]["type"] == "constant"


def test_vllm_counted_every_harness_request(compare: tuple[Any, float, float]) -> None:
    run, before, after = compare
    ok = sum(run.recorder.scenarios[name].external["requests"]["ok"] for name in HARNESS_NAMES)
    assert after - before >= ok


def test_the_native_results_are_kept(compare: tuple[Any, float, float]) -> None:
    run = compare[0]
    assert (entry_results_dir(run.results_dir, "guidellm") / "guidellm.json").is_file()
    vllm_result = json.loads((entry_results_dir(run.results_dir, "vllm-bench") / "vllm-bench.json")
                             .read_text(encoding="utf-8"))
    assert len(vllm_result["ttfts"]) == vllm_result["completed"] + vllm_result["failed"]
    folder: Path = entry_results_dir(run.results_dir, "inference-perf") / "inference-perf"
    assert {"config.yaml", "summary_lifecycle_metrics.json", "per_request_lifecycle_metrics.json"} <= {
        path.name for path in folder.iterdir()}


def test_the_reports_compare_the_harnesses_side_by_side(compare: tuple[Any, float, float]) -> None:
    from perf_tests.reports.console import format_summary_table
    from perf_tests.reports.harness_comparison import comparison_rows
    from perf_tests.reports.html_report import render_html
    from perf_tests.reports.summary import scenario_summary
    from perf_tests.results import SummaryDocument

    run = compare[0]
    summary = SummaryDocument(run_id="harnesses", start=None, end=None,
                              scenarios=[scenario_summary(run.recorder.scenarios[name]) for name in HARNESS_NAMES])
    table = format_summary_table(summary)
    print(table[table.index("harness comparison"):])  # shown with -s: the numbers of this machine
    rows = comparison_rows(summary)
    assert [(row.entry, row.harness) for row in rows] == [(name, name) for name in HARNESS_NAMES]
    for row in rows:
        assert row.rate is not None and row.rate > 0.5
        assert all(float(cell) >= 0 for cell in row.cells[:7]), row.cells  # ttft, itl, tpot, latency: measured
        assert float(row.cells[0]) > 0 and float(row.cells[5]) > 0  # ttft and latency p50
    assert rows[0].cells[7] != "-" and rows[1].cells[7] == "not measured by vllm-bench"
    assert "harness comparison (latencies in ms):" in table and "not measured by inference-perf" in table
    assert 'id="harness-comparison"' in render_html(summary)
