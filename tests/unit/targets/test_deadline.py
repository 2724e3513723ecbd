"""Total deadlines: a server that trickles one byte every 0.2 s cannot keep a kfp call, the health check
or a raw urllib3 call past its deadline, and no call is sent twice behind our back."""

from __future__ import annotations

import re
import socket
import threading
import time
import tokenize
from pathlib import Path

import pytest
import urllib3

from perf_tests.config.settings import AuthSettings, ConnectionSettings
from perf_tests.errors import TargetError
from perf_tests.recorder.failures import classify_exception
from perf_tests.server import EmbeddedKfpServer, SimulatorConfig
from perf_tests.targets.deadline import (
    Deadline,
    DeadlineExceeded,
    DeadlinePoolManager,
    cancel_open_deadlines,
    current_deadline,
    install_deadline_pools,
)
from perf_tests.targets.kfp_client import build_kfp_client
from perf_tests.targets.kfp_target import CLUSTER_KIND, KfpTarget, check_kfp_health
from tests.trickle_server import TrickleServer

HEALTHZ = {"/apis/v2beta1/healthz": {"commit_sha": "trickle", "multi_user": False}}


@pytest.fixture
def trickle():
    with TrickleServer(interval=0.2, fast=HEALTHZ) as server:
        yield server


def _close(client) -> None:
    client._run_api.api_client.rest_client.pool_manager.clear()


def test_a_kfp_call_to_a_trickling_server_ends_at_its_total_deadline(trickle):
    connection = ConnectionSettings(API_HOST="127.0.0.1", API_PORT=trickle.port, REQUEST_TIMEOUT=1)
    client = build_kfp_client(trickle.url, connection, AuthSettings())
    try:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded) as info:
            client.get_run("r1")
        elapsed = time.monotonic() - started
    finally:
        _close(client)
    # Each byte arrives within 0.2 s, so a per-read timeout of 1 s never fires: only the total does.
    assert 0.9 <= elapsed < 2.0
    assert "REQUEST_TIMEOUT" in str(info.value)
    assert classify_exception(info.value)[0] == "timeout"
    assert trickle.requests == ["GET /apis/v2beta1/runs/r1"]  # sent once, not retried


def test_the_health_check_of_a_trickling_server_fails_in_seconds():
    with TrickleServer(interval=0.2) as server:
        target = KfpTarget(url=server.url, kind=CLUSTER_KIND, auth=AuthSettings(),
                           connection=ConnectionSettings(API_HOST="127.0.0.1", API_PORT=server.port))
        started = time.monotonic()
        with pytest.raises(TargetError, match="did not answer the health check within 1s"):
            check_kfp_health(target, timeout=1.0)
        assert time.monotonic() - started < 2.0


def test_a_deadline_covers_several_calls_and_reading_a_streamed_body(trickle):
    manager = urllib3.PoolManager(retries=False)
    install_deadline_pools(manager)
    started = time.monotonic()

    def two_calls() -> None:
        response = manager.request("GET", trickle.url + "/apis/v2beta1/healthz", preload_content=False)
        response.read()
        response = manager.request("GET", trickle.url + "/slow", preload_content=False)
        response.read()

    with Deadline(1.0, "list pods") as deadline, pytest.raises(urllib3.exceptions.HTTPError):
        two_calls()
    assert deadline.expired
    assert 0.9 <= time.monotonic() - started < 2.0
    assert current_deadline() is None
    manager.clear()


def test_each_call_of_a_deadline_pool_manager_has_its_own_deadline(trickle):
    manager = DeadlinePoolManager(0.6, setting="X_TIMEOUT")
    try:
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded, match=r"GET /slow did not finish within .*0.6s \(X_TIMEOUT\)"):
                manager.request("GET", trickle.url + "/slow")
            assert time.monotonic() - started < 1.5
        # A fast call after the timed-out ones is not cut by their expired deadlines.
        assert manager.request("GET", trickle.url + "/apis/v2beta1/healthz").status == 200
    finally:
        manager.clear()


def test_deadlines_are_per_thread():
    seen: list[object] = []
    with Deadline(5.0) as outer:
        thread = threading.Thread(target=lambda: seen.append(current_deadline()))
        thread.start()
        thread.join()
        assert current_deadline() is outer
        with Deadline(1.0) as inner:
            assert current_deadline() is inner
        assert current_deadline() is outer
    assert seen == [None]


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan")])
def test_a_deadline_needs_finite_positive_seconds(seconds):
    with pytest.raises(ValueError, match="finite number of seconds"):
        Deadline(seconds)


def test_a_dropped_connection_is_one_request_and_one_error():
    """No hidden retry: urllib3 would resend a GET whose connection the server closed."""
    with EmbeddedKfpServer(SimulatorConfig(drop_probability=1.0)) as server:
        connection = ConnectionSettings(API_HOST="127.0.0.1", API_PORT=server.port, REQUEST_TIMEOUT=5)
        client = build_kfp_client(server.url, connection, AuthSettings())
        try:
            for _ in range(3):
                with pytest.raises(urllib3.exceptions.HTTPError):
                    client.get_run("missing")
        finally:
            _close(client)
        by_route = server.stats()["by_route"]
    assert sum(by_route["GET /apis/v2beta1/runs/{run_id}"].values()) == 3


# Every place that builds an HTTP client or opens a URL, and why its calls end. A new one fails this test
# until it is given a total deadline (DeadlinePoolManager, Deadline, aiohttp's ClientTimeout(total=...)).
_HTTP_CLIENTS = re.compile(r"PoolManager\(|ProxyManager\(|kfp\.Client\(|ApiClient\(|ClientSession\(|"
                           r"httpx\.(?:Async)?Client\(|urlopen\(|HTTP(?:S)?Connection\(|boto3|botocore|"
                           r"\.client\(\s*[\"']s3")
_KNOWN = {
    "targets/deadline.py",  # the deadline machinery itself
    "targets/kfp_client.py",  # kfp.Client on a DeadlinePoolManager
    "targets/kfp_target.py",  # the health check on a DeadlinePoolManager
    "tekton/client.py",  # ApiClient with install_deadline_pools and a Deadline per call
    "load/http.py",  # aiohttp.ClientTimeout(total=...) is a total deadline
    "server/child.py",  # the embedded simulator's own child process on loopback
    "server/seed.py",  # install_deadline_pools and a Deadline per call (with its retries)
    "llm/health.py",  # LLM servers' /health on a DeadlinePoolManager
    "observability/client.py",  # Prometheus HTTP API on a DeadlinePoolManager (PROMETHEUS_TIMEOUT)
    "observability/local_prometheus.py",  # readiness of its own child Prometheus on loopback (timeout 2 s)
    "storage/client.py",  # boto3's S3 client on deadline-aware botocore pools and a Deadline per call
    "storage/remote.py",  # only checks that boto3 is installed; its calls go through storage/client.py
    "stack/kube_client.py",  # install_deadline_pools and a Deadline per call (STACK_REQUEST_TIMEOUT)
    "stack/local_vllm.py",  # readiness of its own child vLLM on loopback (2 s per probe, bounded start)
}


def test_every_http_client_of_the_package_is_one_whose_calls_have_a_total_deadline():
    package = Path(__file__).resolve().parents[3] / "perf_tests"
    found = set()
    for path in package.rglob("*.py"):
        with path.open("rb") as source:  # code only: docstrings and comments may name clients freely
            code = "".join(token.string for token in tokenize.tokenize(source.readline)
                           if token.type not in (tokenize.STRING, tokenize.COMMENT, tokenize.ENCODING))
        if _HTTP_CLIENTS.search(code):
            found.add(path.relative_to(package).as_posix())
    assert found <= _KNOWN, f"HTTP clients without a known total deadline: {sorted(found - _KNOWN)}"


def test_a_client_that_is_not_urllib3_based_is_cut_by_its_expiry_callback():
    """How a Prometheus or S3 client would use it: the callback closes the call's socket."""
    with TrickleServer(interval=0.2) as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        started = time.monotonic()
        with Deadline(0.8, "query prometheus") as deadline:
            deadline.on_expiry(lambda: sock.shutdown(socket.SHUT_RDWR))
            while chunk := sock.recv(1):
                received += chunk
        assert deadline.expired
        assert 0.7 <= time.monotonic() - started < 1.5
        assert received and b"HTTP/1.1 200".startswith(received)  # bytes kept coming: the deadline ended it


def test_cancel_open_deadlines_cuts_every_call_under_way(trickle):
    manager = DeadlinePoolManager(30.0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            manager.request("GET", trickle.url + "/slow")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    while len(trickle.requests) < 2:
        time.sleep(0.01)  # polling what the server received
    started = time.monotonic()
    assert cancel_open_deadlines("the run was interrupted") >= 2
    for thread in threads:
        thread.join(timeout=5)
    assert time.monotonic() - started < 1.0
    assert [str(e) for e in errors] == ["GET /slow was cut short: the run was interrupted"] * 2
    manager.clear()
