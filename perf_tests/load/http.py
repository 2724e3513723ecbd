"""Asynchronous HTTP for the load engine: aiohttp sessions configured like the framework's kfp client.

aiohttp is used because it is fast enough to generate thousands of requests per second from one core
(httpx's ``AsyncClient`` is about 25 times slower per request). A session keeps connections alive,
allows ``max_connections`` of them (the engine's in-flight cap), applies the request timeout to every
call, sends the bearer token / cookie headers and uses the target's TLS settings. Redirects are not
followed: an API call answered with a redirect is an error (usually an authentication proxy).

Nothing is sent twice behind the engine's back: aiohttp resends an idempotent request (GET, PUT, ...)
once, on a new connection, when the server closes the connection under it, and times both as one
request (aio-libs/aiohttp#7363). That hides a server's dropped connections and folds the resend's time
into the operation, so every session of the engine has it turned off (``open_session``); each request
the target receives is then one attempt the engine recorded. Idle connections are closed after
``DEFAULT_KEEPALIVE`` (30 s), below the usual server and proxy idle timeouts (60-75 s), so that a
recorded connection failure is the server's doing and not a race with its idle-connection reaper.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiohttp
from yarl import URL

from perf_tests.logger.redaction import redact

if TYPE_CHECKING:
    from perf_tests.targets.kfp_target import KfpTarget

__all__ = ["HttpStatusError", "get_bytes", "kfp_session", "open_session"]

DEFAULT_KEEPALIVE = 30.0
_MAX_BODY = 1000  # bytes of an error answer kept for its message


class HttpStatusError(Exception):
    """An answer with a status >= 300; ``classify_exception`` turns it into ``http_<status>``.

    A signal inside the load engine (raised by a workload's ``send`` and classified by the engine), so it
    carries exactly what the classification reads: ``status``, ``reason`` and ``body``.
    """

    def __init__(self, status: int, reason: str, body: bytes) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status = status
        self.reason = reason
        if len(body) > _MAX_BODY:  # redact before cutting: a cut secret no longer matches (short ones later)
            body = redact(body.decode("utf-8", "replace")).encode()[:_MAX_BODY]
        self.body = body


def open_session(
    *,
    max_connections: int,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    ssl_setting: ssl.SSLContext | bool = True,
    keepalive_timeout: float = DEFAULT_KEEPALIVE,
) -> aiohttp.ClientSession:
    """A keep-alive session with at most ``max_connections`` connections; call inside the event loop."""
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        limit_per_host=0,
        ssl=ssl_setting,
        keepalive_timeout=keepalive_timeout,
        ttl_dns_cache=300,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers=dict(headers or {}),
        # Auth cookies come as a fixed header; a jar would parse every Set-Cookie for nothing.
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
    )
    _no_hidden_retry(session)
    return session


def _no_hidden_retry(session: aiohttp.ClientSession) -> None:
    """Turn off aiohttp's resend of an idempotent request whose connection was closed under it.

    aiohttp has no public switch (aio-libs/aiohttp#10790); its own test client sets this attribute
    (aio-libs/aiohttp#9396). If a future aiohttp drops the attribute, fail loudly rather than measure
    hidden resends.
    """
    if not hasattr(session, "_retry_connection"):
        raise RuntimeError(
            f"aiohttp {aiohttp.__version__} has no ClientSession._retry_connection: the load engine cannot "
            "turn off aiohttp's hidden resend of requests on closed connections; use aiohttp >=3.11,<4"
        )
    session._retry_connection = False


def kfp_session(target: KfpTarget, max_connections: int) -> aiohttp.ClientSession:
    """A session with the KFP target's auth headers, TLS settings (CA bundle, verify flag) and timeout."""
    headers = {"Accept": "application/json", **target.http_headers()}
    return open_session(
        max_connections=max_connections,
        timeout=target.connection.request_timeout,
        headers=headers,
        ssl_setting=target.ssl_context(),
    )


async def get_bytes(session: aiohttp.ClientSession, url: URL | str) -> bytes:
    """GET ``url`` and return the body; raise ``HttpStatusError`` for a status >= 300."""
    async with session.get(url, allow_redirects=False) as response:
        body = await response.read()
        if response.status >= 300:
            raise HttpStatusError(response.status, response.reason or "", body)
        return body
