"""Fixtures for the load-engine tests (the server and helpers are in ``load_helpers``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from load_helpers import Collected, LoopbackServer

from perf_tests.recorder import EventHook, PerSecondAggregator


@pytest.fixture(scope="session")
def loopback_server() -> Iterator[LoopbackServer]:
    """The loopback test server for the whole session (port 0, its own thread)."""
    server = LoopbackServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(loopback_server: LoopbackServer) -> LoopbackServer:
    """The loopback server with counters and data cleared."""
    loopback_server.reset()
    return loopback_server


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
def make_recorder(collected: Collected) -> Callable[..., PerSecondAggregator]:
    """A ``PerSecondAggregator`` whose events land in ``collected``."""

    def make(**options: Any) -> PerSecondAggregator:
        hook = EventHook()
        hook.add_listener(collected)
        return PerSecondAggregator(hook, "test", "TEST", **options)

    return make
