"""The mode registry: a plain dict from mode name to runner class, filled by a decorator.

Built-in modes register when ``load_modes()`` imports their modules; third-party runners arrive through
the ``perf_tests.runners`` entry point group (each entry point names a module or a runner class that
registers itself).
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any, TypeVar, get_args

from perf_tests.errors import ConfigurationError
from perf_tests.models.scenario import ScenarioEntry

__all__ = [
    "ENTRY_POINT_GROUP",
    "load_modes",
    "mode_of",
    "options_models",
    "register",
    "registered_runners",
    "runner_for",
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

logger = logging.getLogger(__name__)
_RUNNERS: dict[str, type[Any]] = {}
R = TypeVar("R", bound=type[Any])


def mode_of(options_model: type[ScenarioEntry]) -> str:
    """The mode name an options model declares with ``mode: Literal["NAME"]``."""
    annotation = options_model.model_fields["mode"].annotation
    names = get_args(annotation)
    if len(names) != 1 or not isinstance(names[0], str):
        raise TypeError(f"{options_model.__name__}.mode must be Literal['ONE_NAME'], got {annotation!r}")
    return names[0]


def register(runner_class: R) -> R:
    """Class decorator: register a runner under the mode of its ``options_model``."""
    mode = mode_of(runner_class.options_model)
    existing = _RUNNERS.get(mode)
    if existing is not None and existing is not runner_class:
        raise ConfigurationError(
            f"mode {mode} is registered twice: {existing.__module__}.{existing.__qualname__} and "
            f"{runner_class.__module__}.{runner_class.__qualname__}"
        )
    _RUNNERS[mode] = runner_class
    return runner_class


def unregister(mode: str) -> None:
    """Remove a mode (for tests that register throw-away runners)."""
    _RUNNERS.pop(mode, None)


_loaded = False


def load_modes() -> dict[str, type[Any]]:
    """Import the built-in runners and the entry-point ones (once); return the registry."""
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:  # the module exists but needs something missing
                    raise
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = point.load()
            except Exception as exc:
                raise ConfigurationError(
                    f"runner plugin {point.name!r} ({point.value}) failed to load: {exc}"
                ) from None
            if isinstance(loaded, type) and hasattr(loaded, "options_model"):
                register(loaded)
        _loaded = True
    return dict(_RUNNERS)


def registered_runners() -> dict[str, type[Any]]:
    """The registry as it is now."""
    return dict(_RUNNERS)


def options_models() -> dict[str, type[ScenarioEntry]]:
    """Mode name -> options model, for validating scenario files."""
    return {mode: runner.options_model for mode, runner in load_modes().items()}


def runner_for(mode: str) -> type[Any]:
    """The runner class of a mode."""
    runners = load_modes()
    try:
        return runners[mode]
    except KeyError:
        raise ConfigurationError(f"unknown mode {mode!r}; valid modes: {', '.join(sorted(runners))}") from None
