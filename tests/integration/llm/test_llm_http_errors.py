"""HTTP errors of a real GuideLLM run are classified by status and explained by the server's own message.

A recording proxy in front of the session's mock server answers chat requests as vLLM does for a model
without a chat template (400 and its message, which here also echoes the API key); completion requests
pass. One run of two entries: the default request format (chat), and ``requestFormat: completions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perf_tests.llm.mock_server import MockServer
from tests.integration.llm.llm_harness import LlmRun, run_entries
from tests.integration.llm.recording_proxy import ProxyLog, recording_proxy

pytestmark = [pytest.mark.llm, pytest.mark.slow]

API_KEY = "sk-SECRET-http-errors-4a9c"
VLLM_400 = ("As of transformers v4.44, default chat template is no longer allowed, so you must provide a chat "
            "template if the tokenizer does not define one. (key {authorization})")


@pytest.fixture(scope="module")
def run(mock_target: MockServer, tokenizer_dir: Path,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LlmRun, ProxyLog]]:
    common: dict[str, Any] = {"mode": "LLM_LOAD", "startTime": 0, "runTime": "4s", "rate": 2, "workers": 1,
                              "promptTokens": 16, "outputTokens": 8, "tokenizer": str(tokenizer_dir),
                              "backendOptions": {"api_key": API_KEY}}
    with recording_proxy(mock_target.url, {"/v1/chat/completions": (400, VLLM_400)}) as (url, log):
        yield run_entries([
            {**common, "name": "chat", "targetUrl": url},
            {**common, "name": "completions", "targetUrl": url, "requestFormat": "completions"},
        ], tmp_path_factory.mktemp("http-errors")), log


def test_errors_are_counted_by_http_status(run: tuple[LlmRun, ProxyLog]) -> None:
    llm, _ = run
    stream = llm.recorder.scenarios["chat"].operations["llm_request"]
    assert stream.ok == 0 and stream.failed > 0
    assert dict(stream.errors) == {"http_400": stream.failed}  # not http_127 (from http://127.0.0.1:...)


def test_the_failure_note_carries_the_servers_message_redacted(run: tuple[LlmRun, ProxyLog]) -> None:
    llm, _ = run
    notes = [note for note in llm.recorder.scenarios["chat"].notes if "failed with http_400" in note]
    assert len(notes) == 1, llm.recorder.scenarios["chat"].notes
    failed = llm.recorder.scenarios["chat"].operations["llm_request"].failed
    assert notes[0].startswith(f"{failed} of {failed} requests failed with http_400; the first: HTTP 400 Bad "
                               "Request from /v1/chat/completions: As of transformers v4.44, default chat template "
                               "is no longer allowed")
    assert API_KEY not in notes[0] and "(key Bearer ***)" in notes[0]
    assert len(notes[0]) < 400


def test_request_format_completions_uses_the_completions_api(run: tuple[LlmRun, ProxyLog]) -> None:
    llm, log = run
    assert llm.results["completions"].ok, llm.results["completions"].error
    stream = llm.recorder.scenarios["completions"].operations["llm_request"]
    assert stream.ok > 0 and stream.failed == 0
    assert log.headers_of("/v1/completions")  # the requests went there
    assert not [n for n in llm.recorder.scenarios["completions"].notes if "failed with" in n]
