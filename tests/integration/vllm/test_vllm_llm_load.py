"""LLM_LOAD (a real GuideLLM, the existing runner) against the real vLLM server: both request formats.

Two short entries at once on the session's server: ``completions`` selects GuideLLM's
``/v1/completions`` through the existing ``backendOptions`` (``request_format``); ``chat`` keeps GuideLLM's
default ``/v1/chat/completions``, which works because the tiny model has a chat template (without one,
vLLM answers 400 "default chat template is no longer allowed"). vLLM's own counters confirm the load.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from vllm_server import VllmServer, metric_samples

pytestmark = [pytest.mark.vllm, pytest.mark.llm, pytest.mark.slow]

RUN_SECONDS = 5.0
RATE = 4.0
OUTPUT_TOKENS = 16


@pytest.fixture(scope="module")
def load(vllm_server: VllmServer, tiny_model_dir: Path,
         tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, float], dict[str, float]]:
    if importlib.util.find_spec("guidellm") is None:
        pytest.skip("GuideLLM is not installed (install the llm extra)")
    from llm_harness import run_entries

    common: dict[str, Any] = {
        "mode": "LLM_LOAD", "startTime": 0, "runTime": f"{RUN_SECONDS:g}s", "targetUrl": vllm_server.url,
        "model": vllm_server.model, "tokenizer": str(tiny_model_dir), "rateType": "constant", "rate": RATE,
        "promptTokens": 32, "outputTokens": OUTPUT_TOKENS, "workers": 1,
        "thresholds": ["success_rate(requests) >= 1"],
    }
    before = metric_samples(vllm_server.url)
    run = run_entries([
        {**common, "name": "completions", "backendOptions": {"request_format": "/v1/completions"}},
        {**common, "name": "chat"},
    ], tmp_path_factory.mktemp("vllm-load"))
    return run, before, metric_samples(vllm_server.url)


def _guidellm(run: Any, entry: str) -> dict[str, Any]:
    from perf_tests.llm.results.recording import entry_results_dir

    folder = entry_results_dir(run.results_dir, entry)
    report: dict[str, Any] = json.loads((folder / "guidellm.json").read_text(encoding="utf-8"))
    report["command"] = (folder / "command.txt").read_text(encoding="utf-8")
    return report


@pytest.mark.parametrize(("entry", "route"), [("completions", "/v1/completions"), ("chat", "/v1/chat/completions")])
def test_every_request_succeeds_with_the_tokens_asked_for(load: tuple[Any, Any, Any], entry: str,
                                                          route: str) -> None:
    run = load[0]
    assert run.results[entry].ok, run.results[entry].error
    requests = run.recorder.scenarios[entry].external["requests"]
    assert requests["ok"] > 0 and requests["failed"] == 0, requests
    report = _guidellm(run, entry)
    assert report["benchmarks"][0]["metrics"]["output_token_count"]["successful"]["mean"] == OUTPUT_TOKENS
    if route == "/v1/completions":
        assert "request_format=/v1/completions" in report["command"]
    else:
        assert "request_format" not in report["command"]  # GuideLLM's default, the chat route


def test_vllm_counted_the_load(load: tuple[Any, dict[str, float], dict[str, float]]) -> None:
    run, before, after = load
    ok = sum(run.recorder.scenarios[name].external["requests"]["ok"] for name in ("completions", "chat"))
    served = after["vllm:request_success_total"] - before["vllm:request_success_total"]
    assert served >= ok  # GuideLLM's few preflight requests come on top
    generated = after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"]
    assert generated >= ok * OUTPUT_TOKENS
