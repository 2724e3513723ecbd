"""One registry pattern for every pluggable family: modes, LLM executors, LLM harnesses.

A ``Registry[T]`` is a plain dict from a name to an implementation, filled by a decorator, with the
built-in modules imported on first use and third-party ones found through an entry point group (how
pytest and Locust plugins are found). No auto-import magic beyond that: a family lists its built-in
modules once, where the family is defined.

    HARNESSES: Registry[type[Harness]] = Registry("harness", "perf_tests.harnesses", builtin=(...))

    @HARNESSES.register("guidellm")
    class GuideLlmHarness(Harness): ...
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from perf_tests.errors import ConfigurationError

__all__ = ["Registry"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> implementation for one family; ``kind`` names the family in error messages."""

    def __init__(self, kind: str, entry_point_group: str | None = None, builtin: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self.builtin = builtin
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated implementation under ``name`` (twice is an error)."""

        def decorate(item: T) -> T:
            self.add(name, item)
            return item

        return decorate

    def add(self, name: str, item: T) -> None:
        """Register ``item`` under ``name``; the same item again is a no-op, another one an error."""
        existing = self._items.get(name)
        if existing is not None and existing is not item:
            raise ConfigurationError(
                f"{self.kind} {name} is registered twice: {_describe(existing)} and {_describe(item)}"
            )
        self._items[name] = item

    def remove(self, name: str) -> None:
        """Forget ``name`` (for tests that register throw-away implementations)."""
        self._items.pop(name, None)

    def load(self) -> dict[str, T]:
        """Import the built-in modules and the entry-point ones (once); return name -> implementation."""
        if not self._loaded:
            self._loaded = True
            for module in self.builtin:
                importlib.import_module(module)
            if self.entry_point_group:
                for entry_point in entry_points(group=self.entry_point_group):
                    try:
                        entry_point.load()
                    except Exception as exc:  # a broken plugin must not hide the built-in ones
                        logger.warning("%s plugin %s could not be loaded: %s", self.kind, entry_point.name, exc)
        return dict(self._items)

    def get(self, name: str) -> T:
        """The implementation registered as ``name``; an unknown name's error lists the known ones."""
        items = self.load()
        try:
            return items[name]
        except KeyError:
            known = ", ".join(sorted(items)) or "none"
            raise ConfigurationError(f"unknown {self.kind} {name!r}; registered: {known}") from None

    def names(self) -> tuple[str, ...]:
        """Registered names, sorted."""
        return tuple(sorted(self.load()))

    def __contains__(self, name: object) -> bool:
        return name in self.load()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _describe(item: object) -> str:
    module = getattr(item, "__module__", "?")
    qualname = getattr(item, "__qualname__", repr(item))
    return f"{module}.{qualname}"
