"""Read stamps (``perf_tests.load.exchange``): a session's connections note the clock when they read an
answer's bytes from the socket, so a request's latency can end there rather than when the loop got round to
the awaiting task."""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace

import aiohttp
import pytest

from perf_tests.load.exchange import StampingResponseHandler, read_at, stamp_reads
from tests.unit.load.load_helpers import LoopbackServer


def test_the_stamp_is_the_clock_at_the_answers_last_read_not_when_the_task_resumed(server: LoopbackServer) -> None:
    ticks = itertools.count(1)
    readings: list[int] = []

    def clock() -> float:
        readings.append(next(ticks))
        return float(readings[-1])

    async def main() -> tuple[list[float | None], list[int], float | None]:
        stamps: list[float | None] = []
        after: list[int] = []
        async with aiohttp.ClientSession() as session:
            stamp_reads(session, clock)
            for _ in range(3):  # keep-alive: the same connection, a fresh stamp per answer
                async with session.get(f"{server.url}/ok") as response:
                    await response.read()
                    stamps.append(read_at(response))
                    after.append(len(readings))
                    assert isinstance(response._protocol, StampingResponseHandler)
        async with aiohttp.ClientSession() as plain, plain.get(f"{server.url}/ok") as response:
            await response.read()
            unstamped = read_at(response)
        return stamps, after, unstamped

    stamps, after, unstamped = asyncio.run(main())
    # Each answer's stamp is the last clock reading taken while reading it (no reading after it: the task's
    # own resumption is not what is stamped), and each answer got its own.
    assert stamps == [float(n) for n in after]
    assert len(set(stamps)) == 3
    assert unstamped is None  # a connection that does not stamp: the caller falls back to its own clock


def test_a_connector_without_a_protocol_factory_fails_loudly() -> None:
    session = SimpleNamespace(connector=SimpleNamespace())
    with pytest.raises(RuntimeError, match="_factory"):
        stamp_reads(session, lambda: 0.0)  # type: ignore[arg-type]  # a stand-in for a future aiohttp's session
