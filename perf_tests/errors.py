"""The framework's exceptions: one small hierarchy, each message something a user can act on."""

from __future__ import annotations

import json

__all__ = [
    "ECHO_LIMIT",
    "ConfigurationError",
    "PerfTestsError",
    "RunnerError",
    "ScenarioError",
    "StorageError",
    "TargetError",
    "echo",
    "echo_json",
]

ECHO_LIMIT = 60
"""Characters of a user's value an error message repeats; the rest is cut (a message is read, not a dump)."""


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` for an error message, cut after ``limit`` characters (with the full length said)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    return _cut(repr(value), limit)


def echo_json(value: object, limit: int = ECHO_LIMIT) -> str:
    """``value`` as JSON (as the user wrote it) for an error message, cut after ``limit`` characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return _cut(text, limit)


class PerfTestsError(Exception):
    """Base class: an error the framework reports as a clear message, never as a traceback."""


class ScenarioError(PerfTestsError):
    """A scenario file cannot be read or does not validate."""


class ConfigurationError(PerfTestsError):
    """An environment setting or command-line option is invalid."""


class TargetError(PerfTestsError):
    """The target (KFP API, LLM endpoint, cluster) cannot be reached or is not what it should be."""


class RunnerError(PerfTestsError):
    """A runner could not do its work (prepare, run or clean up)."""


class StorageError(PerfTestsError):
    """An S3 call of the results upload or of a remote baseline failed (never holds a credential).

    ``missing`` is true when the object asked for does not exist.
    """

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing
