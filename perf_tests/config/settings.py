"""Environment settings, read with pydantic-settings when asked for (never at import time).

Every variable, by group:

Connection to the KFP API (``ConnectionSettings``)
    ``API_HOST``         KFP API host name or IP address only (no scheme, port, path or credentials); unset
                         or empty starts the embedded KFP simulator on loopback.
    ``API_PORT``         KFP API port (default 8888).
    ``API_SCHEME``       ``http`` or ``https`` (default ``http``).
    ``API_PATH_PREFIX``  path in front of ``/apis/v2beta1`` (e.g. ``/pipeline`` behind an ingress).
    ``VERIFY_SSL``       verify TLS certificates (default true; turning it off logs a warning once).
    ``CA_BUNDLE``        path to a PEM file of CA certificates for TLS verification (checked at start).
    ``NAMESPACE``        Kubernetes namespace for multi-user KFP (default ``kubeflow``).
    ``MULTI_USER``       send the namespace with every call (default false); the embedded simulator then
                         runs multi-user too, allowing ``NAMESPACE`` only.
    ``REQUEST_TIMEOUT``  total seconds for every API call, not per read (default 30, at most 86400; kfp has
                         none by default).
    ``CACHE_ENABLED``    let KFP reuse cached task results (default false: a perf run must run).
    ``EMBEDDED_SIMULATOR`` JSON object of embedded-simulator settings for dry runs when ``API_HOST`` is
                         unset, e.g. ``{"task_seconds": 0.2, "error_probability": 0.1}``.

Authentication (``AuthSettings``; values are secrets and never logged, nor echoed in errors)
    ``API_TOKEN``        bearer token (one line of printable ASCII).
    ``API_TOKEN_FILE``   regular file holding the bearer token on one line (read at start, at most 64 KiB).
    ``API_COOKIE``       cookie header value, e.g. ``authservice_session=...`` (one line of printable ASCII).

Prometheus (``PrometheusSettings``; what the target did during each entry, see ``perf_tests.observability``)
    ``PROMETHEUS_URL``         base URL of a Prometheus or a Thanos querier (``http(s)://host:port[/prefix]``);
                               unset: no queries are made, and the report says so.
    ``PROMETHEUS_TOKEN``       bearer token sent to it (one line; a secret, never logged).
    ``PROMETHEUS_TOKEN_FILE``  regular file holding that token on one line (read at start, at most 64 KiB).
    ``PROMETHEUS_CA_BUNDLE``   PEM file of CA certificates for its TLS (checked at start).
    ``PROMETHEUS_VERIFY_SSL``  verify its TLS certificate (default true).
    ``PROMETHEUS_TIMEOUT``     total seconds for each query, not per read (default 30, at most 600).

Logging (``LoggingSettings``)
    ``LOG_LEVEL``        console level (default INFO); files always get INFO and up.
    ``LOG_MAX_BYTES``    rotate the text and JSON logs at this size (default 10 MiB).
    ``LOG_BACKUP_COUNT`` rotated files kept (default 5).
    ``NO_COLOR``         any value turns console colours off.

Results (``ResultsSettings``)
    ``SCENARIO_FILE_NAME``  scenario file in ``test_data/scenarios/`` or a path (default ``smoke.json``).
    ``PERF_RESULTS_DIR``    results directory of this run (default ``results/<timestamp>``).
    ``PERF_PROGRESS_INTERVAL`` seconds between progress lines (default 10).
    ``PERF_LOG_EVERY_REQUEST``  write one event per request even for high-rate streams (default false).
    ``PERF_CLEANUP``        ``none`` | ``runs`` | ``all``: what the run deletes at the end (default ``all``:
                            everything it created, never anything else).
    ``PERF_STOP_GRACE``     seconds an entry may take to wind down after its end or an interrupt (set-up
                            included) before it is reported hung and abandoned (default 30).
    ``PERF_HARNESS_LATENESS_MS`` p99 send lateness or event-loop lag (ms) above which the load generator
                            counts as saturated (default 100; ``strictHarness`` entries then fail).

Two groups live with the subsystems they configure (and are read when a run is made, like these):
``perf_tests/baseline/settings.py`` (``PERF_BASELINE``, ``PERF_MAX_REGRESSION``, ...) and
``perf_tests/storage/settings.py`` (``PERF_RESULTS_URL``, ``PERF_S3_ENDPOINT``, ``PERF_S3_REGION``,
``PERF_S3_TIMEOUT``, ``PERF_S3_RETRIES``, ``PERF_S3_MULTIPART_MB``, ``PERF_UPLOAD_REQUIRED``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import ssl
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from perf_tests.errors import ConfigurationError
from perf_tests.logger.redaction import redact

__all__ = [
    "AuthSettings",
    "ConnectionSettings",
    "LoggingSettings",
    "PrometheusSettings",
    "ResultsSettings",
    "Settings",
    "load_settings",
]

def _empty_to_none(value: object) -> object:
    """An empty path variable means unset, not the current directory."""
    return None if isinstance(value, str) and not value.strip() else value


_ENV = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)
TOKEN_FILE_MAX_BYTES = 64 * 1024


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value (None when it can); never quotes the value."""
    for index, char in enumerate(value, start=1):
        if char in "\r\n":
            return f"it holds a line break (character {index}); a header value is one line"
        if not (" " <= char <= "~" or char == "\t"):
            return f"it holds a control or non-ASCII character (character {index}); only printable ASCII is allowed"
    return None


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _read_token_file(path: Path, variable: str = "API_TOKEN_FILE") -> str | None:
    """The token in ``path``: a regular file, read up to a bounded size (never a FIFO or a device)."""
    def error(why: str) -> ConfigurationError:
        return ConfigurationError(f"{variable}={path} cannot be read ({why}); point it at a readable file "
                                  "holding the bearer token")

    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the open file.
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise error(exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"it is {_file_kind(mode)}, not a regular file")
        data = b""
        while len(data) <= TOKEN_FILE_MAX_BYTES and (chunk := os.read(handle, TOKEN_FILE_MAX_BYTES + 1 - len(data))):
            data += chunk
    except OSError as exc:
        raise error(exc.strerror or str(exc)) from None
    finally:
        os.close(handle)
    if len(data) > TOKEN_FILE_MAX_BYTES:
        raise error(f"it is larger than {TOKEN_FILE_MAX_BYTES // 1024} KiB; it must hold only the bearer token")
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigurationError(
            f"{variable}={path} is not UTF-8 text; it must hold the bearer token only"
        ) from None
    problem = header_value_problem(token)
    if problem is not None:
        raise ConfigurationError(f"{variable}={path} does not hold a usable bearer token: {problem}; it must "
                                 "hold the token only, on one line (the content is not shown: it is a secret)")
    return token or None


def _usable_ca_bundle(value: Path | None) -> Path | None:
    """``value`` if it is a readable PEM file of CA certificates; ``ValueError`` saying why not."""
    if value is None:
        return None
    allowed = "give a PEM file of CA certificates"
    try:
        mode = value.stat().st_mode
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc}); {allowed}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"is {_file_kind(mode)}, not a regular file; {allowed}")
    try:
        ssl.create_default_context(cafile=str(value))
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or "no certificate in it"
        raise ValueError(f"is not a CA bundle ({reason}); {allowed}") from None
    return value


class ConnectionSettings(BaseSettings):
    """Where the KFP API is and how to talk to it."""

    model_config = _ENV

    api_host: str = Field(default="", validation_alias="API_HOST")
    api_port: int = Field(default=8888, ge=1, le=65535, validation_alias="API_PORT")
    api_scheme: Literal["http", "https"] = Field(default="http", validation_alias="API_SCHEME")
    api_path_prefix: str = Field(default="", validation_alias="API_PATH_PREFIX")
    verify_ssl: bool = Field(default=True, validation_alias="VERIFY_SSL")
    ca_bundle: Path | None = Field(default=None, validation_alias="CA_BUNDLE")
    namespace: str = Field(default="kubeflow", validation_alias="NAMESPACE")
    multi_user: bool = Field(default=False, validation_alias="MULTI_USER")
    request_timeout: float = Field(default=30.0, gt=0, le=86400, allow_inf_nan=False,
                                   validation_alias="REQUEST_TIMEOUT")
    cache_enabled: bool = Field(default=False, validation_alias="CACHE_ENABLED")
    embedded_simulator: dict[str, Any] = Field(default_factory=dict, validation_alias="EMBEDDED_SIMULATOR")

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _empty_to_none(value)

    @field_validator("api_path_prefix")
    @classmethod
    def _path_only(cls, value: str) -> str:
        prefix = value.strip()
        if not prefix:
            return ""
        if "://" in prefix or any(char in prefix for char in "?#@ \t"):
            raise ValueError("give a URL path only, e.g. /pipeline (no scheme, host, query or spaces)")
        return "/" + prefix.strip("/")

    @field_validator("ca_bundle")
    @classmethod
    def _usable_bundle(cls, value: Path | None) -> Path | None:
        return _usable_ca_bundle(value)

    @field_validator("api_host")
    @classmethod
    def _strip_host(cls, value: str) -> str:
        host = value.strip()
        if "@" in host:
            # Raised as is (not a ValueError): the message must not echo the value, which holds a password.
            raise ConfigurationError("invalid environment setting: API_HOST must not hold credentials "
                                     "(user:password@); use API_TOKEN, API_TOKEN_FILE or API_COOKIE")
        if "://" in host:
            raise ValueError("give the host name only; set the scheme with API_SCHEME")
        host = host.rstrip("/")
        if "/" in host:
            name, path = host.split("/", 1)
            raise ValueError(f"give the host name only; put the path in API_PATH_PREFIX (API_HOST={name} "
                             f"API_PATH_PREFIX=/{path})")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if ":" in host:
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                name, port = host.rsplit(":", 1)
                raise ValueError(f"give the host name only; put the port in API_PORT (API_HOST={name} "
                                 f"API_PORT={port})") from None
        elif host and not re.fullmatch(r"[A-Za-z0-9._-]+", host):
            raise ValueError("is not a host name or IP address (letters, digits, '.', '-' and '_' only)")
        return host

    @property
    def embedded(self) -> bool:
        """True when no API_HOST is set and the embedded simulator is the target."""
        return not self.api_host

    @property
    def url(self) -> str:
        """Base URL of the configured (non-embedded) KFP API."""
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host  # an IPv6 address
        return f"{self.api_scheme}://{host}:{self.api_port}{self.api_path_prefix.rstrip('/')}"


class AuthSettings(BaseSettings):
    """Credentials; every value is a secret."""

    model_config = _ENV

    api_token: SecretStr | None = Field(default=None, validation_alias="API_TOKEN")
    api_token_file: Path | None = Field(default=None, validation_alias="API_TOKEN_FILE")
    api_cookie: SecretStr | None = Field(default=None, validation_alias="API_COOKIE")

    _file_token: str | None = PrivateAttr(default=None)

    @field_validator("api_token_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _empty_to_none(value)

    @model_validator(mode="after")
    def _usable_headers(self) -> AuthSettings:
        """Read the token file and check that every value can be sent as a header, at load, not mid-run.

        Problems raise ``ConfigurationError`` directly (not a ``ValueError``), so no pydantic message can
        echo a secret.
        """
        for name, secret in (("API_TOKEN", self.api_token), ("API_COOKIE", self.api_cookie)):
            problem = header_value_problem(secret.get_secret_value().strip()) if secret is not None else None
            if problem is not None:
                raise ConfigurationError(f"invalid environment setting: {name} cannot be sent as an HTTP header: "
                                         f"{problem} (the value is not shown: it is a secret)")
        if self.api_token_file is not None and not (self.api_token and self.api_token.get_secret_value()):
            self._file_token = _read_token_file(self.api_token_file)
        return self

    def bearer_token(self) -> str | None:
        """The bearer token, from API_TOKEN or (read at load) API_TOKEN_FILE."""
        if self.api_token is not None and self.api_token.get_secret_value():
            return self.api_token.get_secret_value().strip()
        return self._file_token

    def cookie(self) -> str | None:
        """The cookie header value, if any."""
        return self.api_cookie.get_secret_value().strip() or None if self.api_cookie else None


class PrometheusSettings(BaseSettings):
    """Where the Prometheus (or Thanos querier) that watched the target is, and how to reach it.

    The token is a secret: problems with it raise ``ConfigurationError`` naming the variable only.
    """

    model_config = _ENV

    prometheus_url: str = Field(default="", validation_alias="PROMETHEUS_URL")
    prometheus_token: SecretStr | None = Field(default=None, validation_alias="PROMETHEUS_TOKEN")
    prometheus_token_file: Path | None = Field(default=None, validation_alias="PROMETHEUS_TOKEN_FILE")
    prometheus_ca_bundle: Path | None = Field(default=None, validation_alias="PROMETHEUS_CA_BUNDLE")
    prometheus_verify_ssl: bool = Field(default=True, validation_alias="PROMETHEUS_VERIFY_SSL")
    prometheus_timeout: float = Field(default=30.0, gt=0, le=600, allow_inf_nan=False,
                                      validation_alias="PROMETHEUS_TIMEOUT")

    _file_token: str | None = PrivateAttr(default=None)

    @field_validator("prometheus_token_file", "prometheus_ca_bundle", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _empty_to_none(value)

    @field_validator("prometheus_ca_bundle")
    @classmethod
    def _usable_bundle(cls, value: Path | None) -> Path | None:
        return _usable_ca_bundle(value)

    @field_validator("prometheus_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url:
            return ""
        if "@" in url.split("//", 1)[-1].split("/", 1)[0]:
            # Raised as is (not a ValueError): the message must not echo the value, which holds a password.
            raise ConfigurationError("invalid environment setting: PROMETHEUS_URL must not hold credentials "
                                     "(user:password@); use PROMETHEUS_TOKEN or PROMETHEUS_TOKEN_FILE")
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", url):
            raise ValueError("give the base URL of Prometheus or a Thanos querier, e.g. http://localhost:9090 "
                             "(scheme http or https, no query or fragment)")
        return url

    @model_validator(mode="after")
    def _usable_token(self) -> PrometheusSettings:
        token = self.prometheus_token
        problem = header_value_problem(token.get_secret_value().strip()) if token is not None else None
        if problem is not None:
            raise ConfigurationError("invalid environment setting: PROMETHEUS_TOKEN cannot be sent as an HTTP "
                                     f"header: {problem} (the value is not shown: it is a secret)")
        if self.prometheus_token_file is not None and not (token and token.get_secret_value()):
            self._file_token = _read_token_file(self.prometheus_token_file, "PROMETHEUS_TOKEN_FILE")
        return self

    @property
    def enabled(self) -> bool:
        """True when a Prometheus URL is set (otherwise no query is made)."""
        return bool(self.prometheus_url)

    def bearer_token(self) -> str | None:
        """The bearer token, from PROMETHEUS_TOKEN or (read at load) PROMETHEUS_TOKEN_FILE."""
        if self.prometheus_token is not None and self.prometheus_token.get_secret_value():
            return self.prometheus_token.get_secret_value().strip()
        return self._file_token


class LoggingSettings(BaseSettings):
    """Console and file logging."""

    model_config = _ENV

    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, validation_alias="LOG_MAX_BYTES")
    log_backup_count: int = Field(default=5, ge=0, validation_alias="LOG_BACKUP_COUNT")
    no_color: bool = Field(default=False, validation_alias="NO_COLOR")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError("use one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("no_color", mode="before")
    @classmethod
    def _any_value_is_true(cls, value: object) -> object:
        # NO_COLOR convention (no-color.org): set to anything non-empty means no colour.
        if isinstance(value, str):
            return bool(value.strip())
        return value


class ResultsSettings(BaseSettings):
    """What to run and where its results go."""

    model_config = _ENV

    scenario_file_name: str = Field(default="smoke.json", validation_alias="SCENARIO_FILE_NAME")
    results_dir: Path | None = Field(default=None, validation_alias="PERF_RESULTS_DIR")
    progress_interval: float = Field(default=10.0, gt=0, allow_inf_nan=False, validation_alias="PERF_PROGRESS_INTERVAL")
    log_every_request: bool = Field(default=False, validation_alias="PERF_LOG_EVERY_REQUEST")
    cleanup: Literal["none", "runs", "all"] = Field(default="all", validation_alias="PERF_CLEANUP")
    stop_grace: float = Field(default=30.0, gt=0, le=3600, allow_inf_nan=False, validation_alias="PERF_STOP_GRACE")
    harness_lateness_ms: float = Field(default=100.0, gt=0, le=3_600_000, allow_inf_nan=False,
                                       validation_alias="PERF_HARNESS_LATENESS_MS")

    @field_validator("results_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _empty_to_none(value)


@dataclass(frozen=True)
class Settings:
    """All setting groups of one run."""

    connection: ConnectionSettings = field(default_factory=ConnectionSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    results: ResultsSettings = field(default_factory=ResultsSettings)
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)


def load_settings() -> Settings:
    """Read every group from the environment; invalid values raise ConfigurationError."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    groups: list[BaseSettings] = []
    for group in (ConnectionSettings, AuthSettings, LoggingSettings, ResultsSettings, PrometheusSettings):
        try:
            groups.append(group())
        except SettingsError as exc:
            # A complex value (EMBEDDED_SIMULATOR) that is not valid JSON.
            found = re.search(r'field "(\w+)"', str(exc))
            name = found.group(1).upper() if found else "a setting"
            raise ConfigurationError(
                f"invalid environment setting: {name} is not valid JSON ({redact(str(exc.__cause__ or exc))})"
            ) from None
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                name = str(err["loc"][0]).upper() if err["loc"] else "?"
                # Auth values are secrets: name the variable, never echo what it holds (and redact the rest).
                secret = group is AuthSettings or name.startswith("PROMETHEUS_TOKEN")
                shown = "" if secret else f"={redact(repr(err.get('input')))}"
                problems.append(f"{name}{shown}: {err['msg']}")
            raise ConfigurationError("invalid environment setting: " + "; ".join(problems)) from None
    connection, auth, logging_, results, prometheus = groups
    assert isinstance(connection, ConnectionSettings)
    assert isinstance(auth, AuthSettings)
    assert isinstance(logging_, LoggingSettings)
    assert isinstance(results, ResultsSettings)
    assert isinstance(prometheus, PrometheusSettings)
    return Settings(connection, auth, logging_, results, prometheus)
