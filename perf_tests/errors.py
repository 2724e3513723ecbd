"""The framework's exceptions: one small hierarchy, each message something a user can act on."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "PerfTestsError",
    "RunnerError",
    "ScenarioError",
    "TargetError",
]


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
