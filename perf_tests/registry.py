"""One registry pattern for every pluggable family: modes, LLM executors, LLM harnesses.

A ``Registry[T]`` is a plain dict from a name to an implementation, filled by a decorator, with the
built-in modules imported on first use and third-party ones found through an entry point group (how
pytest and Locust plugins are found). No auto-import magic beyond that: a family lists its built-in
modules once, where the family is defined.

    HARNESSES: Registry[type[Harness]] = Registry("harness", "perf_tests.harnesses", builtin=(...))

    @HARNESSES.register("guidellm")
    class GuideLlmHarness(Harness): ...

A family whose implementations know their own name (a mode from its options model, an executor from
its ``name``) passes ``name_of`` and registers with ``@FAMILY.include``; an entry point may then name
the implementation itself rather than a module that registers it. ``strict_plugins`` makes a plugin
that fails to load an error (modes: a scenario naming the plugin's mode would fail later, less clearly)
instead of a warning.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Generic, TypeVar, cast

from perf_tests.errors import ConfigurationError

__all__ = ["Registry"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> implementation for one family; ``kind`` names the family in error messages."""

    def __init__(
        self,
        kind: str,
        entry_point_group: str | None = None,
        builtin: tuple[str, ...] = (),
        *,
        name_of: Callable[[T], str] | None = None,
        strict_plugins: bool = False,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self.builtin = builtin
        self.name_of = name_of
        self.strict_plugins = strict_plugins
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated implementation under ``name`` (twice is an error)."""

        def decorate(item: T) -> T:
            self.add(name, item)
            return item

        return decorate

    def include(self, item: T) -> T:
        """Decorator: register ``item`` under the name ``name_of`` gives it (the family must have one)."""
        if self.name_of is None:
            raise TypeError(f"the {self.kind} registry has no name_of; register with @register(name)")
        self.add(self.name_of(item), item)
        return item

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
        """Import the built-in modules and the entry-point ones (once); return name -> implementation.

        A built-in module that does not exist (left out of a trimmed install) is skipped; one that exists
        but fails to import is an error.
        """
        if not self._loaded:
            self._loaded = True  # first: a module that asks for the registry while it loads sees it partial
            try:
                for module in self.builtin:
                    try:
                        importlib.import_module(module)
                    except ModuleNotFoundError as exc:
                        if exc.name != module:
                            raise
                if self.entry_point_group:
                    for entry_point in entry_points(group=self.entry_point_group):
                        self._load_plugin(entry_point)
            except BaseException:
                self._loaded = False  # so the next call raises the same error rather than half a registry
                raise
        return dict(self._items)

    def _load_plugin(self, entry_point: EntryPoint) -> None:
        try:
            loaded = entry_point.load()
            if self.name_of is not None and not isinstance(loaded, ModuleType):
                self.include(cast(T, loaded))  # the entry point names the implementation itself
        except Exception as exc:
            message = f"{self.kind} plugin {entry_point.name!r} ({entry_point.value}) failed to load: {exc}"
            if self.strict_plugins:
                raise ConfigurationError(message) from None
            logger.warning("%s", message)  # a broken plugin must not hide the built-in ones

    def registered(self) -> dict[str, T]:
        """Name -> implementation as registered so far, without importing anything."""
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
