"""``build_stack``: the stack an entry's ``stack.kind`` names."""

from __future__ import annotations

from pathlib import Path

from perf_tests.stack.kubernetes import KubernetesStack
from perf_tests.stack.local_vllm import LocalVllmStack
from perf_tests.stack.options import StackOptions
from perf_tests.stack.stack import Stack

__all__ = ["build_stack"]


def build_stack(options: StackOptions, name: str, log_dir: Path, base_dir: Path | None = None) -> Stack:
    """The stack ``options.kind`` names, for the entry ``name`` (logs under ``log_dir``; manifests relative to
    ``base_dir``)."""
    if options.kind == "local-vllm":
        return LocalVllmStack(options, name, log_dir)
    return KubernetesStack(options, name, base_dir=base_dir)
