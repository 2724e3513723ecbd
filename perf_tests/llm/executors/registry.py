"""The executor registry: the entry's ``executor`` name -> ``Executor`` class (``EXECUTORS``).

A ``perf_tests.registry.Registry``, like the modes: the built-in executors register with
``@EXECUTORS.include`` under their ``name`` when their modules are imported on first use; third-party
ones arrive through the ``perf_tests.executors`` entry point group. Light on purpose (the entry's options
model imports it to check the ``executor`` field): no executor is imported until the registry is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perf_tests.registry import Registry

if TYPE_CHECKING:
    from perf_tests.llm.executors.executor import Executor

__all__ = ["BUILTIN_EXECUTORS", "ENTRY_POINT_GROUP", "EXECUTORS"]

ENTRY_POINT_GROUP = "perf_tests.executors"
BUILTIN_EXECUTORS = ("perf_tests.llm.executors.local", "perf_tests.llm.executors.tekton")


def _name_of(executor_class: type[Executor]) -> str:
    return executor_class.name


EXECUTORS: Registry[type[Executor]] = Registry("executor", ENTRY_POINT_GROUP, BUILTIN_EXECUTORS, name_of=_name_of)
"""Executor name (the entry's ``executor`` field) -> class."""
