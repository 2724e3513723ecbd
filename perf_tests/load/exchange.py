"""An HTTP exchange's own times: when the request was handed to aiohttp and when the answer's last bytes
were read from the socket (``Exchange``), the latency a load tool reports, without the event loop's delay.

aiohttp hands an answer to the task that awaits it only when the event loop gets round to it: the loop
reads the bytes (``data_received``), parses them, wakes the task, and the task runs after whatever else was
ready first (other runs' answers, timers). That wait is the harness's, not the target's (a load tool's
latency, k6's ``http_req_duration``, ends with the last byte received). ``stamp_reads`` makes a session's
connections note the clock each time they read from their socket; ``read_at`` gives, after an answer was
read, when its last bytes came off the socket.

aiohttp has no public hook for this (the connector's protocol factory ``_factory`` and the response's
``_protocol`` are private, as ``perf_tests.load.http._no_hidden_retry``'s attribute is). ``stamp_reads``
fails loudly when the connector has no such factory; ``read_at`` answers None when the answer came over a
connection that does not stamp (the caller then ends the latency when it got the answer).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler

__all__ = ["Exchange", "StampingResponseHandler", "read_at", "stamp_reads"]


@dataclass(slots=True)
class Exchange:
    """One request's own times, on the caller's clock, filled in by the code that sends it.

    ``sent_at``: the request handed to the HTTP client; ``read_at``: the answer's last bytes read from the
    socket (or, without stamps, when the answer was read). What the caller does around them (building the
    request before, waiting for the loop and parsing the answer after) is not the target's time.
    """

    sent_at: float | None = None
    read_at: float | None = None


class StampingResponseHandler(ResponseHandler):
    """aiohttp's client protocol, noting ``clock()`` at every read from the socket (``read_at``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Callable[[], float]) -> None:
        super().__init__(loop)
        self._clock = clock
        self.read_at: float | None = None

    def data_received(self, data: bytes) -> None:
        self.read_at = self._clock()
        super().data_received(data)


def stamp_reads(session: aiohttp.ClientSession, clock: Callable[[], float]) -> None:
    """Make the connections ``session`` opens from now on stamp their reads with ``clock``."""
    connector: Any = session.connector
    factory = getattr(connector, "_factory", None)
    if not (isinstance(factory, functools.partial) and isinstance(factory.func, type)
            and issubclass(factory.func, ResponseHandler)):
        raise RuntimeError(
            f"aiohttp {aiohttp.__version__}'s connector has no ResponseHandler factory (_factory): the runner cannot "
            "time answers to their last byte read; use aiohttp >=3.11,<4"
        )
    connector._factory = functools.partial(StampingResponseHandler, loop=connector._loop, clock=clock)


def read_at(response: aiohttp.ClientResponse) -> float | None:
    """When the last bytes of ``response`` (read to its end) came off the socket; None when its connection
    does not stamp reads."""
    protocol = getattr(response, "_protocol", None)
    return protocol.read_at if isinstance(protocol, StampingResponseHandler) else None
