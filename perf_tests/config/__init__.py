"""Configuration: environment settings (pydantic-settings) and the one function that sets up logging."""

from perf_tests.config.logging_config import configure_logging
from perf_tests.config.settings import (
    AuthSettings,
    ConnectionSettings,
    LoggingSettings,
    PrometheusSettings,
    ResultsSettings,
    Settings,
    load_settings,
)

__all__ = [
    "AuthSettings",
    "ConnectionSettings",
    "LoggingSettings",
    "PrometheusSettings",
    "ResultsSettings",
    "Settings",
    "configure_logging",
    "load_settings",
]
