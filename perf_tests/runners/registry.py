"""The mode registry: mode name -> runner class, one ``perf_tests.registry.Registry`` (``MODES``).

A runner registers with ``@register`` under the mode its ``options_model`` declares
(``mode: Literal["NAME"]``). Built-in modes register when ``load_modes()`` imports their modules;
third-party runners arrive through the ``perf_tests.runners`` entry point group (each entry point names a
module that registers its runner, or the runner class itself). A plugin that fails to load is an error.
"""

from __future__ import annotations

from typing import Any, TypeVar, get_args

from perf_tests.errors import ConfigurationError
from perf_tests.models.scenario import ScenarioEntry
from perf_tests.registry import Registry
from perf_tests.runners.base_runner import BaseRunner

__all__ = [
    "BUILTIN_MODULES",
    "ENTRY_POINT_GROUP",
    "MODES",
    "RunnerClass",
    "load_modes",
    "mode_of",
    "options_models",
    "register",
    "registered_runners",
    "runner_for",
    "setup_operations",
    "unregister",
]

ENTRY_POINT_GROUP = "perf_tests.runners"
BUILTIN_MODULES = (
    "perf_tests.runners.pipeline_run",
    "perf_tests.runners.experiment",
    "perf_tests.runners.pipeline_upload",
    "perf_tests.runners.pipeline_scheduled_run",
    "perf_tests.runners.random_gets",
    "perf_tests.runners.llm_load",
)

RunnerClass = type[BaseRunner[Any]]
R = TypeVar("R", bound=RunnerClass)


def mode_of(options_model: type[ScenarioEntry]) -> str:
    """The mode name an options model declares with ``mode: Literal["NAME"]``."""
    annotation = options_model.model_fields["mode"].annotation
    names = get_args(annotation)
    if len(names) != 1 or not isinstance(names[0], str):
        raise TypeError(f"{options_model.__name__}.mode must be Literal['ONE_NAME'], got {annotation!r}")
    return names[0]


def _mode_of_runner(runner_class: RunnerClass) -> str:
    return mode_of(runner_class.options_model)


MODES: Registry[RunnerClass] = Registry(
    "mode", ENTRY_POINT_GROUP, BUILTIN_MODULES, name_of=_mode_of_runner, strict_plugins=True
)
"""Mode name -> runner class."""


def register(runner_class: R) -> R:
    """Class decorator: register a runner under the mode of its ``options_model``."""
    MODES.include(runner_class)
    return runner_class


def unregister(mode: str) -> None:
    """Remove a mode (for tests that register throw-away runners)."""
    MODES.remove(mode)


def load_modes() -> dict[str, RunnerClass]:
    """Import the built-in runners and the entry-point ones (once); return mode -> runner class."""
    return MODES.load()


def registered_runners() -> dict[str, RunnerClass]:
    """The registry as it is now (nothing imported)."""
    return MODES.registered()


def options_models() -> dict[str, type[ScenarioEntry]]:
    """Mode name -> options model, for validating scenario files."""
    return {mode: runner.options_model for mode, runner in load_modes().items()}


def runner_for(mode: str) -> RunnerClass:
    """The runner class of a mode; an unknown mode's error lists the valid ones."""
    runners = load_modes()
    try:
        return runners[mode]
    except KeyError:
        raise ConfigurationError(f"unknown mode {mode!r}; valid modes: {', '.join(sorted(runners))}") from None


def setup_operations(mode: str) -> frozenset[str]:
    """The set-up and clean-up calls of a mode (its options model's ``setup_operations``); none for a mode
    that is not registered (a summary rebuilt without the plugin that ran it)."""
    runner = load_modes().get(mode)
    return runner.options_model.setup_operations if runner is not None else frozenset()
