"""vLLM's benchmark with an API key, against the real vLLM server behind a loopback server that checks it.

The key reaches ``vllm bench serve`` through its environment (``OPENAI_API_KEY``): every ``/v1`` request
arrives with it (a wrong or missing one would get 401), no process has it on its command line while the
load runs (``/proc/<pid>/cmdline``, read as each request is served), and no results file holds it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.llm.recording_proxy import recording_proxy
from tests.integration.vllm.vllm_server import VllmServer

pytestmark = [pytest.mark.vllm, pytest.mark.llm, pytest.mark.slow]

API_KEY = "sk-SECRET-vllm-bench-4e9b1c"


def test_vllm_bench_sends_the_key_from_its_environment_only(vllm_server: VllmServer, tmp_path: Path) -> None:
    from tests.integration.llm.llm_harness import run_entries

    entry = {"mode": "LLM_LOAD", "name": "bench", "harness": "vllm-bench", "model": vllm_server.model,
             "requestFormat": "completions", "startTime": 0, "runTime": "4s", "rateType": "poisson", "rate": 2,
             "promptTokens": 16, "outputTokens": 8, "backendOptions": {"api_key": API_KEY}}
    with recording_proxy(vllm_server.url, authorization=f"Bearer {API_KEY}", watch_cmdlines=(API_KEY,)) as (url, log):
        run = run_entries([{**entry, "targetUrl": url}], tmp_path / "results")
    assert run.results["bench"].ok, run.results["bench"].error
    sent = log.headers_of("/v1/completions")
    assert len(sent) >= 2 and log.unauthorized == 0
    assert all(headers.get("authorization") == f"Bearer {API_KEY}" for headers in sent)
    assert log.cmdline_scans >= len(sent) and log.cmdline_hits == {}, log.cmdline_hits
    for path in (tmp_path / "results").rglob("*"):
        if path.is_file():
            assert API_KEY not in path.read_bytes().decode("utf-8", "replace"), path
