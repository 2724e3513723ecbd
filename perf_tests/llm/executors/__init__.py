"""Executors: where an LLM_LOAD entry's GuideLLM processes run.

``Executor`` (``executor.py``) is the interface and its lifecycle; ``LocalExecutor`` (``local.py``) runs
child processes on this machine. ``EXECUTOR_CLASSES`` maps the entry's ``executor`` field to a class; a
Tekton executor adds ``tekton.py`` and one line here (and its name to ``options.EXECUTORS``).
"""

from perf_tests.llm.executors.executor import Executor, LaunchSpec, ProcessExit
from perf_tests.llm.executors.local import FINISH_GRACE, LocalExecutor
from perf_tests.llm.executors.tekton import TektonExecutor

EXECUTOR_CLASSES: dict[str, type[Executor]] = {LocalExecutor.name: LocalExecutor, TektonExecutor.name: TektonExecutor}
"""Executor name (the entry's ``executor`` field) -> class."""

__all__ = [
    "EXECUTOR_CLASSES",
    "FINISH_GRACE",
    "Executor",
    "LaunchSpec",
    "LocalExecutor",
    "ProcessExit",
    "TektonExecutor",
]
