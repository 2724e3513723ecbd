"""Secrets of an LLM_LOAD entry (an API key, a header value) and of the KFP connection (token, cookie)
reach the servers and no output: every file of the results folder, and the console, are searched.

One ``python -m perf_tests run`` of two entries: LLM_LOAD through a recording proxy in front of the
session's mock server (a server that answers 401 without the right Authorization, records that GuideLLM
sent the real values and, while it serves each request, that no process has a secret on its command line),
and PIPELINE_RUN against the embedded KFP simulator with API_TOKEN and API_COOKIE set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perf_tests.llm.mock_server import MockServer
from tests.integration.llm.recording_proxy import ProxyLog, recording_proxy

pytestmark = [pytest.mark.llm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
API_KEY = "sk-SECRET-llm-7c1e9a4b2d"
HEADER_VALUE = "hdr-SECRET-3f8b6d0a91"
TOKEN = "tok-SECRET-kfp-5e2a7c9d1b"
COOKIE_VALUE = "ck-SECRET-kfp-8d4f2b6a0c"
SECRETS = (API_KEY, HEADER_VALUE, TOKEN, COOKIE_VALUE)


@pytest.fixture(scope="module")
def run(mock_target: MockServer, tokenizer_dir: Path,
        tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, ProxyLog]:
    folder = tmp_path_factory.mktemp("secrets")
    scenario: list[dict[str, Any]] = [
        {"mode": "LLM_LOAD", "name": "llm", "startTime": 0, "runTime": "4s", "rate": 2, "promptTokens": 16,
         "outputTokens": 8, "workers": 1, "tokenizer": str(tokenizer_dir),
         "backendOptions": {"api_key": API_KEY, "timeout": 30},
         "headers": {"X-Gateway-Key": HEADER_VALUE}},
        {"mode": "PIPELINE_RUN", "name": "kfp", "startTime": 0, "runTime": "3s", "numTimes": 2,
         "pollInterval": "100ms", "allowedFailureRate": 1.0},
    ]
    with recording_proxy(mock_target.url, authorization=f"Bearer {API_KEY}", watch_cmdlines=SECRETS) as (url, log):
        scenario[0]["targetUrl"] = url
        (folder / "s.json").write_text(json.dumps(scenario), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "SCENARIO_"))}
        env.update(SCENARIO_FILE_NAME=str(folder / "s.json"), PERF_RESULTS_DIR=str(folder / "results"),
                   API_TOKEN=TOKEN, API_COOKIE=f"authservice_session={COOKIE_VALUE}", LOG_LEVEL="DEBUG")
        proc = subprocess.run([sys.executable, "-m", "perf_tests", "run"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
    return proc, folder / "results", log


def test_guidellm_sent_the_real_values(run: tuple[subprocess.CompletedProcess[str], Path, ProxyLog]) -> None:
    proc, _, log = run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sent = log.headers_of("/v1/chat/completions")
    assert sent, "no request reached the target"
    assert all(headers.get("authorization") == f"Bearer {API_KEY}" for headers in sent)
    assert all(headers.get("x-gateway-key") == HEADER_VALUE for headers in sent)
    assert log.unauthorized == 0


def test_no_secret_on_any_command_line(run: tuple[subprocess.CompletedProcess[str], Path, ProxyLog]) -> None:
    """While GuideLLM's requests were being served, no process (the launcher, GuideLLM's workers, anything
    else on the machine) had a secret in its ``/proc/<pid>/cmdline``."""
    _, _, log = run
    assert log.cmdline_scans >= len(log.headers_of("/v1/chat/completions")) > 0
    assert log.cmdline_hits == {}, f"secrets on the command lines of {log.cmdline_hits}"


def test_no_secret_in_any_output(run: tuple[subprocess.CompletedProcess[str], Path, ProxyLog]) -> None:
    proc, results, _ = run
    files = [path for path in results.rglob("*") if path.is_file()]
    names = {str(path.relative_to(results)) for path in files}
    assert {"summary.json", "run.json", "report.html", "events.jsonl", "perf.log", "llm/command.txt",
            "llm/guidellm.json", "llm/guidellm.log", "llm/benchmark_report.json", "llm/benchmark_report.yaml",
            "llm/metrics.json"} <= names, names
    outputs = {"stdout": proc.stdout, "stderr": proc.stderr}
    outputs.update({str(path): path.read_bytes().decode("utf-8", "replace") for path in files})
    for name, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {name}"


def test_the_scenario_copy_and_the_entry_show_the_secrets_masked(
        run: tuple[subprocess.CompletedProcess[str], Path, ProxyLog]) -> None:
    _, results, _ = run
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    llm = next(entry for entry in summary["scenario"] if entry["mode"] == "LLM_LOAD")
    assert llm["backendOptions"]["api_key"] == "***" and llm["headers"]["X-Gateway-Key"] == "***"
    assert llm["backendOptions"]["timeout"] == 30  # only the secrets are masked
    universal = json.loads((results / "llm" / "benchmark_report.json").read_text(encoding="utf-8"))
    config = universal["scenario"]["load"]["native"]["config"]
    assert config["backendOptions"]["api_key"] == "**********"
    assert config["headers"] == {"X-Gateway-Key": "**********"}
