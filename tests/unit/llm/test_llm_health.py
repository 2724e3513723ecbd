"""LLM servers' /health: a total deadline, so a trickling server cannot hold a run before its load starts."""

from __future__ import annotations

import time

import pytest

from perf_tests.errors import TargetError
from perf_tests.llm.mock_server import healthy
from perf_tests.runners.llm_load import check_target
from tests.trickle_server import TrickleServer


def test_a_trickling_target_is_unreachable_within_the_timeout() -> None:
    # One byte every 0.2 s: each read is quick, the answer would take minutes (urllib's timeout is per read).
    with TrickleServer(interval=0.2) as server:
        started = time.monotonic()
        with pytest.raises(TargetError, match=r"is unreachable \(.*\); check the URL"):
            check_target(server.url, timeout=1.0)
        assert time.monotonic() - started < 5.0
        started = time.monotonic()
        assert healthy(server.url, timeout=1.0) is False
        assert time.monotonic() - started < 5.0


def test_a_server_that_answers_health_at_once_passes() -> None:
    with TrickleServer(fast={"/health": {"status": "ok"}}) as server:
        check_target(server.url, timeout=5.0)
        assert healthy(server.url, timeout=5.0) is True
