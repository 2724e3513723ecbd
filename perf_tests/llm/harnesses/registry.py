"""``HARNESSES``: harness name (the entry's ``harness`` field) -> ``Harness`` class.

Kept apart from the package's ``__init__`` so that ``perf_tests.llm.options`` can list the names without
importing the harness modules (which import the options).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perf_tests.registry import Registry

if TYPE_CHECKING:
    from perf_tests.llm.harnesses.harness import Harness

__all__ = ["DEFAULT_HARNESS", "HARNESSES"]

DEFAULT_HARNESS = "guidellm"

HARNESSES: Registry[type[Harness]] = Registry(
    "harness",
    "perf_tests.harnesses",
    builtin=(
        "perf_tests.llm.harnesses.guidellm",
        "perf_tests.llm.harnesses.vllm_bench",
        "perf_tests.llm.harnesses.inference_perf",
    ),
)
"""Built-in harnesses, plus third-party ones from the ``perf_tests.harnesses`` entry point group."""
