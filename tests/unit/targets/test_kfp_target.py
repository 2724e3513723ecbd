"""Target resolution: TLS verification is on by default and turning it off is said once."""

from __future__ import annotations

import logging

import pytest

from perf_tests.config.settings import AuthSettings, ConnectionSettings
from perf_tests.errors import TargetError
from perf_tests.targets import kfp_target
from perf_tests.targets.kfp_target import resolve_kfp_target


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
