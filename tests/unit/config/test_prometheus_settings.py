"""PROMETHEUS_* settings: unset means no queries; the token (or its file) is a secret never echoed."""

import os

import pytest

from perf_tests.config.settings import load_settings
from perf_tests.errors import ConfigurationError

SECRET = "prom-7d1e-very-secret"


def _error(monkeypatch, **env) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    return str(info.value)


def test_unset_means_no_queries():
    prometheus = load_settings().prometheus
    assert not prometheus.enabled
    assert prometheus.bearer_token() is None
    assert prometheus.prometheus_verify_ssl is True
    assert prometheus.prometheus_timeout == 30.0


def test_a_url_and_a_token_file(monkeypatch, tmp_path):
    token = tmp_path / "token"
    token.write_text(f"{SECRET}\n")
    monkeypatch.setenv("PROMETHEUS_URL", "https://localhost:9091/")
    monkeypatch.setenv("PROMETHEUS_TOKEN_FILE", str(token))
    prometheus = load_settings().prometheus
    assert prometheus.enabled
    assert prometheus.prometheus_url == "https://localhost:9091"
    assert prometheus.bearer_token() == SECRET
    assert SECRET not in repr(prometheus)


@pytest.mark.parametrize("url", ["localhost:9090", "ftp://x", "http://host:9090/?q=1"])
def test_a_url_that_is_not_a_base_url_says_what_to_give(monkeypatch, url):
    assert "give the base URL of Prometheus" in _error(monkeypatch, PROMETHEUS_URL=url)


def test_credentials_in_the_url_are_refused_without_echoing_them(monkeypatch):
    message = _error(monkeypatch, PROMETHEUS_URL=f"https://user:{SECRET}@thanos:9091")
    assert "PROMETHEUS_TOKEN" in message
    assert SECRET not in message


def test_a_token_with_a_line_break_names_the_variable_only(monkeypatch):
    message = _error(monkeypatch, PROMETHEUS_TOKEN=f"{SECRET}\nmore")
    assert "PROMETHEUS_TOKEN cannot be sent" in message
    assert SECRET not in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_token_file_that_is_a_fifo_is_refused_at_once(monkeypatch, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    message = _error(monkeypatch, PROMETHEUS_TOKEN_FILE=str(fifo))
    assert "PROMETHEUS_TOKEN_FILE=" in message and "a FIFO" in message


def test_a_timeout_out_of_range_is_named(monkeypatch):
    assert "PROMETHEUS_TIMEOUT" in _error(monkeypatch, PROMETHEUS_TIMEOUT="0")
