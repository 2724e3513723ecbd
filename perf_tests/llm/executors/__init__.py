"""Executors: where an LLM_LOAD entry's GuideLLM processes run.

``Executor`` (``executor.py``) is the interface and its lifecycle; ``LocalExecutor`` (``local.py``) runs
child processes on this machine, ``TektonExecutor`` (``tekton.py``) PipelineRuns in a cluster, with its
entry fields beside it (``tekton_options.py``). Each executor registers in ``EXECUTORS`` (``registry.py``)
under its name, the entry's ``executor`` field, and carries its own options model (``options.py``).

This package's ``__init__`` imports no executor (the entry's options model imports the registry and the
options models while the executors import the options model); import them from their modules or from
``perf_tests.llm``.
"""

from perf_tests.llm.executors.options import ExecutorOptions
from perf_tests.llm.executors.registry import EXECUTORS

__all__ = ["EXECUTORS", "ExecutorOptions"]
