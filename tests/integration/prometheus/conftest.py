"""A real Prometheus (Debian's ``prometheus``) on a free loopback port for the session, scraping at 1 s.

Targets are added by the tests that start them (``file_sd_configs``): the embedded KFP simulator here, the
real vLLM server in the vLLM tests. ``wait_scraped`` waits (bounded) until a job has been scraped twice, so
``rate()`` has two points.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_tests.observability.local_prometheus import LocalPrometheus

# From Prometheus' docs (password "test"): only its shape matters here; our client never sends it.
BASIC_AUTH_HASH = "$2b$12$hNf2lSsxfm0.i4a.1kVpSOVyBCfIB51VRjgBUyv6kdnyTlgWj81Ay"


def _need_binary() -> None:
    if shutil.which("prometheus") is None:
        reason = "Debian's prometheus is missing; install it with `make system-deps`"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    _need_binary()
    with LocalPrometheus(tmp_path_factory.mktemp("prometheus"), scrape_interval=1.0) as server:
        yield server


@pytest.fixture(scope="session")
def prometheus_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    """A Prometheus behind basic auth (``--web.config.file``): a bearer token gets a real 401."""
    _need_binary()
    with LocalPrometheus(tmp_path_factory.mktemp("prometheus-auth"), basic_auth_hash=BASIC_AUTH_HASH) as server:
        yield server


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


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return tmp_path / "results"
