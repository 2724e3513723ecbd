"""Environment settings, read with pydantic-settings when asked for (never at import time).

Every variable, by group:

Connection to the KFP API (``ConnectionSettings``)
    ``API_HOST``         KFP API host; unset or empty starts the embedded KFP simulator on loopback.
    ``API_PORT``         KFP API port (default 8888).
    ``API_SCHEME``       ``http`` or ``https`` (default ``http``).
    ``API_PATH_PREFIX``  path in front of ``/apis/v2beta1`` (e.g. ``/pipeline`` behind an ingress).
    ``VERIFY_SSL``       verify TLS certificates (default true; turning it off logs a warning once).
    ``CA_BUNDLE``        path to a CA bundle for TLS verification.
    ``NAMESPACE``        Kubernetes namespace for multi-user KFP (default ``kubeflow``).
    ``MULTI_USER``       send the namespace with every call (default false); the embedded simulator then
                         runs multi-user too, allowing ``NAMESPACE`` only.
    ``REQUEST_TIMEOUT``  seconds for every API call (default 30; kfp has none by default).
    ``CACHE_ENABLED``    let KFP reuse cached task results (default false: a perf run must run).
    ``EMBEDDED_SIMULATOR`` JSON object of embedded-simulator settings for dry runs when ``API_HOST`` is
                         unset, e.g. ``{"task_seconds": 0.2, "error_probability": 0.1}``.

Authentication (``AuthSettings``; values are secrets and never logged)
    ``API_TOKEN``        bearer token.
    ``API_TOKEN_FILE``   file holding the bearer token (read at start).
    ``API_COOKIE``       cookie header value, e.g. ``authservice_session=...``.

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
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from perf_tests.errors import ConfigurationError
from perf_tests.logger.redaction import redact

__all__ = [
    "AuthSettings",
    "ConnectionSettings",
    "LoggingSettings",
    "ResultsSettings",
    "Settings",
    "load_settings",
]

def _empty_to_none(value: object) -> object:
    """An empty path variable means unset, not the current directory."""
    return None if isinstance(value, str) and not value.strip() else value


_ENV = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)


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
    request_timeout: float = Field(default=30.0, gt=0, validation_alias="REQUEST_TIMEOUT")
    cache_enabled: bool = Field(default=False, validation_alias="CACHE_ENABLED")
    embedded_simulator: dict[str, Any] = Field(default_factory=dict, validation_alias="EMBEDDED_SIMULATOR")

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _empty_to_none(value)

    @field_validator("api_host")
    @classmethod
    def _strip_host(cls, value: str) -> str:
        host = value.strip()
        if "://" in host:
            raise ValueError("give the host name only; set the scheme with API_SCHEME")
        return host.rstrip("/")

    @property
    def embedded(self) -> bool:
        """True when no API_HOST is set and the embedded simulator is the target."""
        return not self.api_host

    @property
    def url(self) -> str:
        """Base URL of the configured (non-embedded) KFP API."""
        return f"{self.api_scheme}://{self.api_host}:{self.api_port}{self.api_path_prefix.rstrip('/')}"


class AuthSettings(BaseSettings):
    """Credentials; every value is a secret."""

    model_config = _ENV

    api_token: SecretStr | None = Field(default=None, validation_alias="API_TOKEN")
    api_token_file: Path | None = Field(default=None, validation_alias="API_TOKEN_FILE")
    api_cookie: SecretStr | None = Field(default=None, validation_alias="API_COOKIE")

    @field_validator("api_token_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _empty_to_none(value)

    def bearer_token(self) -> str | None:
        """The bearer token, read from API_TOKEN or API_TOKEN_FILE."""
        if self.api_token is not None and self.api_token.get_secret_value():
            return self.api_token.get_secret_value().strip()
        if self.api_token_file is None:
            return None
        try:
            return self.api_token_file.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigurationError(
                f"API_TOKEN_FILE={self.api_token_file} cannot be read ({exc.strerror or exc}); "
                "point it at a readable file holding the bearer token"
            ) from None
        except UnicodeDecodeError:
            raise ConfigurationError(
                f"API_TOKEN_FILE={self.api_token_file} is not UTF-8 text; it must hold the bearer token only"
            ) from None

    def cookie(self) -> str | None:
        """The cookie header value, if any."""
        return self.api_cookie.get_secret_value() if self.api_cookie else None


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
    progress_interval: float = Field(default=10.0, gt=0, validation_alias="PERF_PROGRESS_INTERVAL")
    log_every_request: bool = Field(default=False, validation_alias="PERF_LOG_EVERY_REQUEST")
    cleanup: Literal["none", "runs", "all"] = Field(default="all", validation_alias="PERF_CLEANUP")

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


def load_settings() -> Settings:
    """Read every group from the environment; invalid values raise ConfigurationError."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    groups: list[BaseSettings] = []
    for group in (ConnectionSettings, AuthSettings, LoggingSettings, ResultsSettings):
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
                # Auth values are secrets: name the variable, never echo what it holds.
                shown = "" if group is AuthSettings else f"={err.get('input')!r}"
                problems.append(f"{name}{shown}: {err['msg']}")
            raise ConfigurationError("invalid environment setting: " + "; ".join(problems)) from None
    connection, auth, logging_, results = groups
    assert isinstance(connection, ConnectionSettings)
    assert isinstance(auth, AuthSettings)
    assert isinstance(logging_, LoggingSettings)
    assert isinstance(results, ResultsSettings)
    return Settings(connection, auth, logging_, results)
