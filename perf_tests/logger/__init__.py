"""Logging infrastructure: the JSON-lines formatter, the console formatter and secret redaction."""

from perf_tests.logger.formatters import JsonLinesFormatter, console_formatter
from perf_tests.logger.redaction import SecretRedactingFilter, redact, redact_data, register_secret

__all__ = [
    "JsonLinesFormatter",
    "SecretRedactingFilter",
    "console_formatter",
    "redact",
    "redact_data",
    "register_secret",
]
