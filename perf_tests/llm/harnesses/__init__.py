"""LLM load harnesses: the load generators an LLM_LOAD entry can run (its ``harness`` field).

``Harness`` (``harness.py``) is the interface: build the command (and config) from the entry, parse the
tool's native results into the framework's records under one set of metric names; the runner launches
the processes on the shared clock and writes the llm-d universal report for any of them. One module per
harness, registered in ``HARNESSES`` (``registry.py``): ``guidellm`` (the default), ``vllm-bench``
(``vllm bench serve`` from ``.venv-vllm``) and ``inference-perf`` (from ``.venv-inference-perf``);
``held_start.py`` holds the last two until their start, ``python_finder`` finds inference-perf's Python.
"""

from perf_tests.llm.harnesses.harness import ALL_METRICS, Harness
from perf_tests.llm.harnesses.registry import DEFAULT_HARNESS, HARNESSES

__all__ = ["ALL_METRICS", "DEFAULT_HARNESS", "HARNESSES", "Harness"]
