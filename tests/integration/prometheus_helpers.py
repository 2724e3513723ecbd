"""Helpers of the real-Prometheus fixtures (``prometheus``, ``prometheus_with_auth`` in this folder's conftest).

Targets are added by the tests that start them (``file_sd_configs``): the embedded KFP simulator, the real
vLLM server. ``wait_scraped`` waits (bounded) until a job has been scraped twice, so ``rate()`` has two points.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request

import pytest

from perf_tests.observability.local_prometheus import LocalPrometheus

# From Prometheus' docs (password "test"): only its shape matters here; our client never sends it.
BASIC_AUTH_HASH = "$2b$12$hNf2lSsxfm0.i4a.1kVpSOVyBCfIB51VRjgBUyv6kdnyTlgWj81Ay"


def need_binary() -> None:
    if shutil.which("prometheus") is None:
        reason = "Debian's prometheus is missing; install it with `make system-deps`"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def instant(server: LocalPrometheus, expr: str) -> list[dict]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{server.url}/api/v1/query?{query}", timeout=5) as answer:
        return list(json.loads(answer.read())["data"]["result"])


def wait_scraped(server: LocalPrometheus, job: str, timeout: float = 30.0) -> None:
    """Until ``job`` has at least two scrapes stored (bounded; fails with the targets' state)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if instant(server, f'count_over_time(up{{job="{job}"}}[1m]) >= 2'):
            return
        time.sleep(0.25)
    with urllib.request.urlopen(f"{server.url}/api/v1/targets", timeout=5) as answer:
        pytest.fail(f"prometheus did not scrape {job} twice in {timeout:g}s: {answer.read()[:2000]!r}")
