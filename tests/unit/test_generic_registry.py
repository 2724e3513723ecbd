"""The generic registry: decorator registration, twice is an error, unknown names list the known ones."""

from __future__ import annotations

import pytest

from perf_tests.errors import ConfigurationError
from perf_tests.registry import Registry


def test_registered_items_are_found_by_name_and_listed_sorted() -> None:
    registry: Registry[type[object]] = Registry("widget")

    @registry.register("b")
    class B:
        pass

    @registry.register("a")
    class A:
        pass

    assert registry.get("a") is A
    assert registry.get("b") is B
    assert registry.names() == ("a", "b")
    assert "a" in registry
    assert "c" not in registry


def test_a_second_implementation_under_one_name_is_an_error_naming_both() -> None:
    registry: Registry[type[object]] = Registry("widget")

    class First:
        pass

    class Second:
        pass

    registry.add("x", First)
    registry.add("x", First)  # the same one again is fine (a module imported twice)
    with pytest.raises(ConfigurationError, match=r"widget x is registered twice: .*First and .*Second"):
        registry.add("x", Second)


def test_an_unknown_name_lists_the_registered_ones() -> None:
    registry: Registry[int] = Registry("harness")
    registry.add("guidellm", 1)
    registry.add("vllm-bench", 2)
    with pytest.raises(ConfigurationError, match=r"unknown harness 'nope'; registered: guidellm, vllm-bench"):
        registry.get("nope")


def test_builtin_modules_are_imported_on_first_use() -> None:
    registry: Registry[int] = Registry("thing", builtin=("json",))
    assert registry.load() == {}
    registry.remove("missing")  # removing what is not there is a no-op
