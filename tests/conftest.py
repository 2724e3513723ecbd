"""Shared fixtures: the embedded KFP simulator on a loopback port and a real ``kfp.Client`` on it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import kfp
import pytest

from perf_tests.server import EmbeddedKfpServer, SimulatorConfig


def pytest_collection_finish(session: pytest.Session) -> None:
    """Undo what importing test modules did to the event loop policy: ``import guidellm`` installs uvloop's
    for the whole process, so tests would run on another loop depending on which modules were collected."""
    asyncio.set_event_loop_policy(None)

FAST_RUNS = SimulatorConfig(
    task_seconds=0.05, pending_seconds=0.02, canceling_seconds=0.05, seed=20240501, timestamp_precision="milliseconds"
)
"""Short simulated times so runs finish within a test: 3 tasks → about 0.17 s from creation to SUCCEEDED.
Millisecond timestamps, because the real server's whole seconds would make such runs last 0 or 1 s."""


def _close(client: kfp.Client) -> None:
    """Close the client's pooled connections (kfp.Client has no close(); GC would warn about sockets)."""
    client._run_api.api_client.rest_client.pool_manager.clear()


@pytest.fixture(scope="session")
def kfp_server() -> Iterator[EmbeddedKfpServer]:
    """The embedded KFP simulator for the whole session: port 0, in-memory DB, :data:`FAST_RUNS`, no faults.

    Shared: do not change its faults (use ``fresh_kfp_server``); name what you create uniquely.
    """
    with EmbeddedKfpServer(FAST_RUNS) as server:
        yield server


@pytest.fixture
def fresh_kfp_server() -> Iterator[EmbeddedKfpServer]:
    """A simulator of one's own (same settings as ``kfp_server``), for tests that change faults or state."""
    with EmbeddedKfpServer(FAST_RUNS) as server:
        yield server


@pytest.fixture
def kfp_client(kfp_server: EmbeddedKfpServer) -> Iterator[kfp.Client]:
    """A real ``kfp.Client(host=kfp_server.url)`` (it calls ``healthz`` on construction)."""
    client = kfp.Client(host=kfp_server.url)
    yield client
    _close(client)


@pytest.fixture
def fresh_kfp_client(fresh_kfp_server: EmbeddedKfpServer) -> Iterator[kfp.Client]:
    """A real ``kfp.Client`` on ``fresh_kfp_server``."""
    client = kfp.Client(host=fresh_kfp_server.url)
    yield client
    _close(client)
