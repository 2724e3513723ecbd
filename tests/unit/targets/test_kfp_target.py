"""Target resolution: TLS verification is on by default and turning it off is said once."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from perf_tests.config.settings import AuthSettings, ConnectionSettings
from perf_tests.errors import TargetError
from perf_tests.logger.redaction import register_secret
from perf_tests.targets import kfp_target
from perf_tests.targets.kfp_target import CLUSTER_KIND, KfpTarget, check_kfp_health, resolve_kfp_target


@pytest.fixture
def target_log(caplog):
    """Records of the target module's logger, even when an earlier test stopped propagation."""
    logger = logging.getLogger("perf_tests.targets.kfp_target")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING, logger=logger.name)
    yield caplog
    logger.removeHandler(caplog.handler)


def test_tls_verification_is_on_by_default():
    assert ConnectionSettings().verify_ssl is True


def test_turning_tls_verification_off_warns_once(target_log, monkeypatch):
    monkeypatch.setattr(kfp_target, "_warned_insecure", False)
    connection = ConnectionSettings(API_HOST="127.0.0.1", API_PORT=1, API_SCHEME="https", VERIFY_SSL=False)
    for _ in range(2):
        with pytest.raises(TargetError, match="unreachable"):
            resolve_kfp_target(connection, AuthSettings(), timeout=1.0)
    warnings = {id(r) for r in target_log.records if "VERIFY_SSL is off" in r.getMessage()}
    assert len(warnings) == 1


def test_no_warning_while_verification_is_on(target_log, monkeypatch):
    monkeypatch.setattr(kfp_target, "_warned_insecure", False)
    connection = ConnectionSettings(API_HOST="127.0.0.1", API_PORT=1, API_SCHEME="https")
    with pytest.raises(TargetError):
        resolve_kfp_target(connection, AuthSettings(), timeout=1.0)
    assert not [r for r in target_log.records if "VERIFY_SSL" in r.getMessage()]


class _EchoesTheToken(BaseHTTPRequestHandler):
    """Answers 500 with a body that echoes the bearer token after 20 characters of text."""

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = json.dumps({"error": f"rejected token {token}"}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_health_error_that_echoes_a_long_token_shows_none_of_it():
    token = "T" + uuid.uuid4().hex * 10  # 321 characters: longer than the 200 the message keeps
    register_secret(token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoesTheToken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        target = KfpTarget(url=f"http://127.0.0.1:{server.server_address[1]}", kind=CLUSTER_KIND,
                           connection=ConnectionSettings(API_HOST="127.0.0.1"), auth=AuthSettings(API_TOKEN=token))
        with pytest.raises(TargetError, match="answered HTTP 500") as info:
            check_kfp_health(target, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert "rejected token ***" in str(info.value)
    assert token[:16] not in str(info.value)


def test_the_target_recorded_in_results_has_no_url_password():
    target = KfpTarget(url="https://admin:hunter2-pw@kfp.example.com:443", kind=CLUSTER_KIND,
                       connection=ConnectionSettings(), auth=AuthSettings())
    assert "hunter2" not in json.dumps(target.as_json())
