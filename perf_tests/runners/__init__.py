"""Runners: one per mode, each in its own module, found through the mode registry.

``BaseRunner`` documents the lifecycle (prepare, wait for start, run, stop, cleanup); ``AsyncRunner``
runs a coroutine on its own event loop. ``MODES`` (a ``perf_tests.registry.Registry``) maps a mode to its
runner class: ``register`` adds a mode; ``load_modes`` imports the built-in ones and the
``perf_tests.runners`` entry points.
"""

from perf_tests.runners.base_runner import AsyncRunner, BaseRunner
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import MODES, load_modes, options_models, register, registered_runners, runner_for

__all__ = [
    "MODES",
    "AsyncRunner",
    "BaseRunner",
    "RunContext",
    "load_modes",
    "options_models",
    "register",
    "registered_runners",
    "runner_for",
]
