"""Turning exceptions from clients (kfp, urllib3, aiohttp, kubernetes) into an error type and a message.

Error types are short and stable so they can be counted: ``http_500``, ``timeout``, ``connection``,
``not_found``...; messages are redacted and shortened.
"""

from __future__ import annotations

import socket

from perf_tests.logger.redaction import redact

__all__ = ["classify_exception"]

_MAX_MESSAGE = 300


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """(error type, short redacted message) for an exception raised by a measured call."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status >= 100:
        reason = getattr(exc, "reason", "") or ""
        body = getattr(exc, "body", "") or ""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return f"http_{status}", _short(f"HTTP {status} {reason} {_first_message(text)}".strip())
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ConnectionRefusedError) or names & {"NewConnectionError", "NameResolutionError"}:
        # urllib3 2 derives NewConnectionError from ConnectTimeoutError; a refusal is not a timeout.
        return "connection", _short(text)
    if isinstance(exc, TimeoutError | socket.timeout) or names & {
        "ReadTimeoutError", "ConnectTimeoutError", "TimeoutError", "ServerTimeoutError", "ReadTimeout",
    }:
        return "timeout", _short(text)
    if isinstance(exc, ConnectionError) or names & {
        "MaxRetryError", "NewConnectionError", "ProtocolError", "ClientConnectionError",
        "ServerDisconnectedError", "ClientOSError", "RemoteDisconnected",
    }:
        if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
            return "timeout", _short(text)
        return "connection", _short(text)
    return type(exc).__name__, _short(text)


def _first_message(body: str) -> str:
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return redact(body)[:120]  # redact before cutting: a cut secret no longer matches
    if isinstance(data, dict):
        return redact(str(data.get("message") or data.get("error_message") or data.get("error") or ""))[:200]
    return ""


def _short(text: str) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
