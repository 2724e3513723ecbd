"""Environment settings: defaults, real parsing, and ConfigurationErrors that name the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perf_tests.config.settings import (
    AuthSettings,
    ConnectionSettings,
    LoggingSettings,
    ResultsSettings,
    load_settings,
)
from perf_tests.errors import ConfigurationError

SECRET = "tok-5f0c2a9e-very-secret"


def config_error(monkeypatch, **env) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    return str(info.value)


def test_defaults():
    settings = load_settings()
    connection = settings.connection
    assert (connection.api_host, connection.api_port, connection.api_scheme) == ("", 8888, "http")
    assert connection.embedded
    assert connection.verify_ssl is True
    assert connection.cache_enabled is False
    assert connection.multi_user is False
    assert connection.namespace == "kubeflow"
    assert connection.request_timeout == 30.0
    assert settings.auth.bearer_token() is None
    assert settings.auth.cookie() is None
    assert (settings.logging.log_level, settings.logging.no_color) == ("INFO", False)
    assert (settings.logging.log_max_bytes, settings.logging.log_backup_count) == (10 * 1024 * 1024, 5)
    assert settings.results.scenario_file_name == "smoke.json"
    assert settings.results.results_dir is None
    assert settings.results.cleanup == "all"
    assert settings.results.log_every_request is False


def test_every_field_is_documented_in_the_module_docstring():
    import perf_tests.config.settings as module

    for group in (ConnectionSettings, AuthSettings, LoggingSettings, ResultsSettings):
        for name, info in group.model_fields.items():
            assert f"``{info.validation_alias}``" in (module.__doc__ or ""), f"{group.__name__}.{name}"


def test_nothing_is_read_at_import_time():
    env = {**os.environ, "API_PORT": "not-a-port", "LOG_LEVEL": "loud"}
    result = subprocess.run(
        [sys.executable, "-c", "import perf_tests.config, perf_tests.runners, perf_tests.models"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("false", False), ("False", False), ("0", False), ("no", False), ("off", False),
     ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True)],
)
def test_booleans_are_really_parsed(monkeypatch, value, expected):
    monkeypatch.setenv("CACHE_ENABLED", value)
    monkeypatch.setenv("VERIFY_SSL", value)
    monkeypatch.setenv("MULTI_USER", value)
    monkeypatch.setenv("PERF_LOG_EVERY_REQUEST", value)
    settings = load_settings()
    assert settings.connection.cache_enabled is expected
    assert settings.connection.verify_ssl is expected
    assert settings.connection.multi_user is expected
    assert settings.results.log_every_request is expected


def test_a_word_that_is_not_a_boolean_is_an_error(monkeypatch):
    message = config_error(monkeypatch, CACHE_ENABLED="maybe")
    assert message.startswith("invalid environment setting: CACHE_ENABLED='maybe': ")
    assert "valid boolean" in message


def test_lower_case_variable_names_are_read(monkeypatch):
    monkeypatch.setenv("api_port", "9000")
    assert load_settings().connection.api_port == 9000


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc", "API_PORT='abc': Input should be a valid integer"),
     ("80.5", "API_PORT='80.5': Input should be a valid integer"),
     ("0", "API_PORT='0': Input should be greater than or equal to 1"),
     ("70000", "API_PORT='70000': Input should be less than or equal to 65535")],
)
def test_bad_port_names_api_port(monkeypatch, value, expected):
    assert expected in config_error(monkeypatch, API_PORT=value)


@pytest.mark.parametrize("host", ["http://kfp.example.com", "https://kfp.example.com:443/pipeline"])
def test_host_with_scheme_is_rejected(monkeypatch, host):
    message = config_error(monkeypatch, API_HOST=host)
    assert f"API_HOST={host!r}" in message
    assert "give the host name only; set the scheme with API_SCHEME" in message


def test_host_is_cleaned_and_builds_the_url(monkeypatch):
    monkeypatch.setenv("API_HOST", " kfp.example.com/ ")
    monkeypatch.setenv("API_PORT", "443")
    monkeypatch.setenv("API_SCHEME", "https")
    monkeypatch.setenv("API_PATH_PREFIX", "/pipeline/")
    connection = load_settings().connection
    assert not connection.embedded
    assert connection.url == "https://kfp.example.com:443/pipeline"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"API_SCHEME": "ftp"}, "API_SCHEME='ftp': Input should be 'http' or 'https'"),
        ({"REQUEST_TIMEOUT": "0"}, "REQUEST_TIMEOUT='0': Input should be greater than 0"),
        ({"REQUEST_TIMEOUT": "soon"}, "REQUEST_TIMEOUT='soon': Input should be a valid number"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud': Value error, use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"LOG_MAX_BYTES": "0"}, "LOG_MAX_BYTES='0': Input should be greater than 0"),
        ({"LOG_BACKUP_COUNT": "-1"}, "LOG_BACKUP_COUNT='-1': Input should be greater than or equal to 0"),
        ({"PERF_CLEANUP": "some"}, "PERF_CLEANUP='some': Input should be 'none', 'runs' or 'all'"),
        ({"PERF_PROGRESS_INTERVAL": "-1"}, "PERF_PROGRESS_INTERVAL='-1': Input should be greater than 0"),
        ({"EMBEDDED_SIMULATOR": "[1]"}, "EMBEDDED_SIMULATOR=[1]: Input should be a valid dictionary"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch, env, expected):
    message = config_error(monkeypatch, **env)
    assert message.startswith("invalid environment setting: ")
    assert expected in message


def test_several_problems_of_a_group_are_reported_together(monkeypatch):
    message = config_error(monkeypatch, API_PORT="abc", API_SCHEME="ftp")
    assert "API_PORT='abc'" in message
    assert "API_SCHEME='ftp'" in message


def test_invalid_json_in_embedded_simulator_is_a_configuration_error(monkeypatch):
    assert "EMBEDDED_SIMULATOR" in config_error(monkeypatch, EMBEDDED_SIMULATOR="{bad")


def test_log_level_is_case_insensitive(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", " debug ")
    assert load_settings().logging.log_level == "DEBUG"


@pytest.mark.parametrize(("value", "expected"), [("", False), ("1", True), ("0", True), ("false", True)])
def test_no_color_is_on_for_any_non_empty_value(monkeypatch, value, expected):
    monkeypatch.setenv("NO_COLOR", value)
    assert load_settings().logging.no_color is expected


# -- auth ------------------------------------------------------------------------------------------


def test_token_from_the_environment_wins_over_the_file(monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file", encoding="utf-8")
    monkeypatch.setenv("API_TOKEN_FILE", str(token_file))
    assert load_settings().auth.bearer_token() == "from-file"
    monkeypatch.setenv("API_TOKEN", f"  {SECRET}\n")
    assert load_settings().auth.bearer_token() == SECRET


def test_token_file_is_read_and_stripped(monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(f"{SECRET}\n\n", encoding="utf-8")
    monkeypatch.setenv("API_TOKEN_FILE", str(token_file))
    assert load_settings().auth.bearer_token() == SECRET


def test_empty_token_file_means_no_token(monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("  \n", encoding="utf-8")
    monkeypatch.setenv("API_TOKEN_FILE", str(token_file))
    assert load_settings().auth.bearer_token() is None


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_token_file_is_a_clear_error(monkeypatch, tmp_path, kind):
    path = tmp_path / "token"
    if kind == "directory":
        path.mkdir()
    monkeypatch.setenv("API_TOKEN_FILE", str(path))
    with pytest.raises(ConfigurationError) as info:  # at load, before anything runs
        load_settings()
    message = str(info.value)
    assert message.startswith(f"API_TOKEN_FILE={path} cannot be read (")
    assert message.endswith("point it at a readable file holding the bearer token")


def test_token_file_that_is_not_text_is_a_clear_error(monkeypatch, tmp_path):
    path = tmp_path / "token"
    path.write_bytes(b"\xff\xfe" + SECRET.encode("utf-16-le"))
    monkeypatch.setenv("API_TOKEN_FILE", str(path))
    with pytest.raises(ConfigurationError, match="API_TOKEN_FILE"):
        load_settings()


def test_empty_path_variables_count_as_unset(monkeypatch):
    monkeypatch.setenv("API_TOKEN_FILE", "")
    monkeypatch.setenv("PERF_RESULTS_DIR", "")
    monkeypatch.setenv("CA_BUNDLE", "")
    settings = load_settings()
    assert settings.auth.api_token_file is None
    assert settings.results.results_dir is None
    assert settings.connection.ca_bundle is None


def test_cookie(monkeypatch):
    monkeypatch.setenv("API_COOKIE", f"authservice_session={SECRET}")
    assert load_settings().auth.cookie() == f"authservice_session={SECRET}"


def test_secrets_are_never_echoed(monkeypatch, tmp_path):
    monkeypatch.setenv("API_TOKEN", SECRET)
    monkeypatch.setenv("API_COOKIE", f"session={SECRET}")
    settings = load_settings()
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.auth.model_dump())
    # a bad value elsewhere: the message names the bad variable and shows nothing of the secrets
    message = config_error(monkeypatch, API_PORT="abc")
    assert "API_PORT" in message
    assert SECRET not in message


def test_settings_groups_read_on_their_own(monkeypatch):
    monkeypatch.setenv("NAMESPACE", "team-a")
    monkeypatch.setenv("PERF_RESULTS_DIR", "/tmp/results-x")
    assert ConnectionSettings().namespace == "team-a"
    assert ResultsSettings().results_dir == Path("/tmp/results-x")


# -- header values, token files, CA bundles, hosts and timeouts (issue 11, items 6 and 13) ----------------

@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [("API_TOKEN", f"{SECRET}\nsecond-line", "line break (character 25)"),
     ("API_COOKIE", f"session={SECRET}\r\nX-Evil: 1", "line break"),
     ("API_TOKEN", f"{SECRET}\x07", "control or non-ASCII character"),
     ("API_TOKEN", f"{SECRET}é", "control or non-ASCII character")],
)
def test_a_header_value_that_cannot_be_sent_is_a_clear_error_that_does_not_echo_it(monkeypatch, name, value,
                                                                                    problem):
    message = config_error(monkeypatch, **{name: value})
    assert f"{name} cannot be sent as an HTTP header" in message
    assert problem in message
    assert SECRET not in message


def test_a_two_line_token_file_is_a_clear_error_that_does_not_echo_it(monkeypatch, tmp_path):
    path = tmp_path / "token"
    path.write_text(f"{SECRET}\nrefresh-{SECRET}\n", encoding="utf-8")
    message = config_error(monkeypatch, API_TOKEN_FILE=str(path))
    assert f"API_TOKEN_FILE={path} does not hold a usable bearer token: it holds a line break" in message
    assert SECRET not in message


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "large"])
def test_a_token_file_is_read_only_if_it_is_a_small_regular_file(monkeypatch, tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
        expected = "it is a FIFO, not a regular file"
    elif kind == "large":
        path = tmp_path / "big"
        path.write_bytes(b"a" * (65 * 1024))
        expected = "it is larger than 64 KiB"
    else:
        path = Path(kind)
        expected = "it is a character device, not a regular file"
    message = config_error(monkeypatch, API_TOKEN_FILE=str(path))
    assert message == (f"API_TOKEN_FILE={path} cannot be read ({expected}"
                       + ("; it must hold only the bearer token" if kind == "large" else "")
                       + "); point it at a readable file holding the bearer token")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("missing", "cannot be read (No such file or directory); give a PEM file of CA certificates"),
     ("directory", "is a directory, not a regular file; give a PEM file of CA certificates"),
     ("not-pem", "is not a CA bundle ("),
     ("empty", "is not a CA bundle (")],
)
def test_a_ca_bundle_that_is_not_one_is_a_clear_error(monkeypatch, tmp_path, kind, expected):
    path = tmp_path / "ca.pem"
    if kind == "directory":
        path.mkdir()
    elif kind == "not-pem":
        path.write_text("this is not a certificate\n")
    elif kind == "empty":
        path.write_text("")
    message = config_error(monkeypatch, CA_BUNDLE=str(path))
    assert f"CA_BUNDLE='{path}'" in message
    assert expected in message


def test_a_real_ca_bundle_is_accepted(monkeypatch):
    import certifi

    monkeypatch.setenv("CA_BUNDLE", certifi.where())
    assert load_settings().connection.ca_bundle == Path(certifi.where())


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1/pipeline", "put the path in API_PATH_PREFIX (API_HOST=127.0.0.1 API_PATH_PREFIX=/pipeline)"),
     ("kfp.example.com:8443", "put the port in API_PORT (API_HOST=kfp.example.com API_PORT=8443)"),
     ("kfp example", "is not a host name or IP address")],
)
def test_a_host_with_a_path_or_port_says_which_variable_takes_it(monkeypatch, host, expected):
    message = config_error(monkeypatch, API_HOST=host)
    assert "API_HOST=" in message
    assert expected in message


@pytest.mark.parametrize("host", ["user:hunter2-password@kfp.example.com", "https://user:hunter2-password@kfp"])
def test_credentials_in_the_host_are_rejected_without_echoing_them(monkeypatch, host):
    message = config_error(monkeypatch, API_HOST=host)
    assert "API_HOST must not hold credentials" in message
    assert "hunter2" not in message


def test_an_ipv6_host_builds_a_bracketed_url(monkeypatch):
    monkeypatch.setenv("API_HOST", "::1")
    assert load_settings().connection.url == "http://[::1]:8888"


@pytest.mark.parametrize(("value", "expected"), [("inf", "finite number"), ("nan", "finite number"),
                                                 ("100000", "less than or equal to 86400")])
def test_a_request_timeout_must_be_finite_and_at_most_a_day(monkeypatch, value, expected):
    message = config_error(monkeypatch, REQUEST_TIMEOUT=value)
    assert f"REQUEST_TIMEOUT='{value}'" in message
    assert expected in message


@pytest.mark.parametrize(("prefix", "url"), [("pipeline", "http://h:8888/pipeline"), ("/a/b/", "http://h:8888/a/b"),
                                             ("", "http://h:8888")])
def test_the_path_prefix_is_a_path(monkeypatch, prefix, url):
    monkeypatch.setenv("API_HOST", "h")
    monkeypatch.setenv("API_PATH_PREFIX", prefix)
    assert load_settings().connection.url == url


def test_a_path_prefix_that_is_a_url_is_a_clear_error(monkeypatch):
    message = config_error(monkeypatch, API_HOST="h", API_PATH_PREFIX="https://h/pipeline")
    assert "API_PATH_PREFIX='https://h/pipeline': Value error, give a URL path only" in message


def test_tekton_timeouts_must_be_finite(monkeypatch):
    from perf_tests.tekton.settings import load_tekton_settings

    monkeypatch.setenv("TEKTON_REQUEST_TIMEOUT", "inf")
    with pytest.raises(ConfigurationError, match="TEKTON_REQUEST_TIMEOUT='inf': Input should be a finite number"):
        load_tekton_settings()
