"""classify_exception: short, countable error types and short, redacted messages."""

import asyncio
import socket
import uuid

import aiohttp
import kfp_server_api
import pytest
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from perf_tests.logger.redaction import register_secret
from perf_tests.recorder.failures import classify_exception

POOL = urllib3.HTTPConnectionPool("127.0.0.1", 9)
CONNECTION = urllib3.connection.HTTPConnection("127.0.0.1", 9)


def asyncio_timeout() -> BaseException:
    """The exception asyncio really raises when an awaited call times out."""

    async def main():
        await asyncio.wait_for(asyncio.sleep(10), timeout=0.01)

    try:
        asyncio.run(main())
    except TimeoutError as exc:
        return exc
    raise AssertionError("asyncio.wait_for did not time out")


def api_exception(status, reason, body=None):
    exc = kfp_server_api.ApiException(status=status, reason=reason)
    exc.body = body
    return exc


def test_kfp_api_exception_is_an_http_status():
    assert classify_exception(api_exception(500, "Internal Server Error")) == (
        "http_500", "HTTP 500 Internal Server Error")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"error": "x", "message": "pipeline not found", "code": 5}', "HTTP 404 Not Found pipeline not found"),
        ('{"error": "only an error field"}', "HTTP 404 Not Found only an error field"),
        # The upload endpoints' own body (pipeline_upload_server.go), as the simulator now answers too.
        ('{"error_message": "no file", "error_details": "x"}', "HTTP 404 Not Found no file"),
        (b'{"message": "as bytes"}', "HTTP 404 Not Found as bytes"),
        ("plain text body", "HTTP 404 Not Found plain text body"),
        ("[1, 2]", "HTTP 404 Not Found"),
        (b"\xff\xfe broken bytes", "HTTP 404 Not Found \ufffd\ufffd broken bytes"),
    ],
)
def test_the_body_message_is_added(body, expected):
    assert classify_exception(api_exception(404, "Not Found", body)) == ("http_404", expected)


def test_long_bodies_are_cut():
    error_type, message = classify_exception(api_exception(502, "Bad Gateway", "<html>" + "x" * 5000))
    assert error_type == "http_502"
    assert len(message) <= 300


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(POOL, "/apis/v2beta1/runs", "Read timed out. (read timeout=30)"),
        ConnectTimeoutError(CONNECTION, "Connection to 127.0.0.1 timed out. (connect timeout=30)"),
        MaxRetryError(POOL, "/x", ConnectTimeoutError(CONNECTION, "Connection to 127.0.0.1 timed out.")),
        MaxRetryError(POOL, "/x", ReadTimeoutError(POOL, "/x", "Read timed out.")),
        "asyncio.wait_for",
        TimeoutError("timed out"),
        aiohttp.ServerTimeoutError("Timeout on reading data from socket"),
    ],
    ids=lambda exc: exc if isinstance(exc, str) else type(exc).__name__,
)
def test_timeouts(exc):
    if exc == "asyncio.wait_for":
        exc = asyncio_timeout()
    error_type, message = classify_exception(exc)
    assert error_type == "timeout"
    assert message.startswith(f"{type(exc).__name__}:")


@pytest.mark.parametrize(
    "exc",
    [
        NewConnectionError(CONNECTION, "Failed to establish a new connection: [Errno 111] Connection refused"),
        MaxRetryError(POOL, "/x", NewConnectionError(CONNECTION, "Failed to establish a new connection")),
        NameResolutionError("kfp.invalid", CONNECTION, socket.gaierror(-2, "Name or service not known")),
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientConnectionError("connection lost"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_connection_errors(exc):
    assert classify_exception(exc)[0] == "connection"


def test_other_exceptions_are_named_by_their_type():
    assert classify_exception(KeyError("run_id")) == ("KeyError", "KeyError: 'run_id'")
    assert classify_exception(RuntimeError()) == ("RuntimeError", "RuntimeError:")


def test_messages_are_one_line_and_short():
    error_type, message = classify_exception(ValueError("first line\n\n   second    line " + "y" * 1000))
    assert error_type == "ValueError"
    assert message.startswith("ValueError: first line second line yyy")
    assert len(message) == 300
    assert message.endswith("...")


def test_messages_are_redacted():
    secret = f"fail-{uuid.uuid4().hex}"
    register_secret(secret)
    cases = [
        api_exception(401, f"Unauthorized {secret}", f'{{"message": "token {secret} expired"}}'),
        RuntimeError(f"request with Authorization: Bearer {secret} failed"),
        ConnectionError(f"could not reach http://kfp?token={secret}"),
        RuntimeError("sent Bearer abcdefghijklmnopqrstuvwxyz0123"),
    ]
    for exc in cases:
        _, message = classify_exception(exc)
        assert secret not in message
        assert "abcdefghijklmnopqrstuvwxyz0123" not in message
        assert "***" in message


def test_a_secret_cut_by_the_body_limit_does_not_leak():
    secret = f"straddle-{uuid.uuid4().hex}"
    register_secret(secret)
    body = "x" * 110 + secret  # the 120-character cut falls inside the secret
    _, message = classify_exception(api_exception(500, "Internal Server Error", body))
    assert secret[:10] not in message


def test_a_secret_cut_by_the_load_engines_body_limit_does_not_leak():
    """The load engine keeps 1000 bytes of an error answer: it redacts before it cuts, too."""
    from perf_tests.load.http import HttpStatusError

    secret = f"straddle-{uuid.uuid4().hex}"
    register_secret(secret)
    error = HttpStatusError(500, "Internal Server Error", ("x" * 990 + secret).encode())
    assert secret[:9].encode() not in error.body
    _, message = classify_exception(error)
    assert secret[:9] not in message
