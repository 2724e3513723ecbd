"""The harness interface: one load generator (GuideLLM, vLLM's benchmark, inference-perf) behind LLM_LOAD.

A harness turns an entry into processes and their results; where the processes run is the executor's
business (``perf_tests.llm.executors``) and what is done with the results is the runner's
(``perf_tests.runners.llm_load``). Lifecycle, as ``LlmLoadRunner`` calls it:

1. ``entry_problems(entry)``: when the scenario file loads, what of the entry this harness cannot do,
   each naming the field (a ``ScenarioError`` then, never a failure mid-run).
2. ``check()``: before anything starts, that the tool is installed; its version (``RunnerError`` naming
   the make target that installs it otherwise).
3. ``plan(entry)`` and ``build(...)``: the processes and each one's command line (and config files). A
   local executor launches each ``startupLead`` early; the process does its own set-up, says it is ready
   and holds until its start on the run's shared clock (GuideLLM through ``perf_tests.llm.process.launcher``,
   the others through ``held_start.py`` in their own virtualenv), so the first request is due on time.
4. ``parse(path)``: the tool's native result file -> ``LoadReport`` (benchmarks with the framework's
   statistics in GuideLLM's naming and every request's timings), which the runner summarizes into the
   same metric names for every harness (``ttft``, ``itl``, ``tpot``, ``request_latency`` ...) and turns
   into the llm-d universal report with ``tool = name``.

``measures`` lists the metric names the harness measures; the others are recorded as "not measured by
<harness>" (never as zero).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from perf_tests.llm.command import HarnessCommand
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.plan import Launch, plan_launches
from perf_tests.llm.results.parsing import GuidellmReport

__all__ = ["ALL_METRICS", "Harness"]

ALL_METRICS: tuple[str, ...] = (
    "ttft", "itl", "tpot", "request_latency", "request_scheduled_latency", "prompt_tokens", "output_tokens",
)
"""The per-request metrics an LLM_LOAD entry can record, whichever harness ran."""


class Harness(ABC):
    """One load generator: commands from an entry, its native results into the framework's records."""

    name: ClassVar[str]
    measures: ClassVar[frozenset[str]] = frozenset(ALL_METRICS)
    """Metric names (of ``ALL_METRICS``) this harness measures."""
    own_rates: ClassVar[bool] = True
    """The tool reports request and token rates of its own (over its own window), kept as they are; False:
    they are derived from its requests and put per second of the entry's load window by the runner."""

    def entry_problems(self, entry: LlmLoadFields) -> list[str]:
        """What of ``entry`` this harness cannot do, each naming the field and what is allowed."""
        return []

    @abstractmethod
    def check(self) -> str:
        """The installed tool's version; ``RunnerError`` saying how to install it when it is missing."""

    def plan(self, entry: LlmLoadFields) -> list[Launch]:
        """The processes of ``entry`` (default: one, or one per stair-step layer, ``plan_launches``)."""
        return [Launch(launch.index, launch.start, launch.end, launch.rate, launch.count, self.name)
                for launch in plan_launches(entry)]

    @abstractmethod
    def build(self, entry: LlmLoadFields, launch: Launch, *, target_url: str, tokenizer: str | Path | None,
              output_path: str | Path, data_path: str | Path | None = None) -> HarnessCommand:
        """The command of one planned process; ``output_path`` is where its native result must land."""

    def output_path(self, entry_dir: Path, launch: Launch) -> Path:
        """Where one process's native result lands (default ``<entry dir>/<label>.json``)."""
        return entry_dir / f"{launch.label}.json"

    @abstractmethod
    def parse(self, path: Path) -> GuidellmReport:
        """The native result file at ``path`` as a ``LoadReport``; ``RunnerError`` when it is not one."""

    def not_measured(self) -> dict[str, str]:
        """Metric name -> "not measured by <harness>" for what this harness does not measure."""
        return {name: f"not measured by {self.name}" for name in ALL_METRICS if name not in self.measures}

    @staticmethod
    def problems_of_fields(entry: LlmLoadFields, fields: Sequence[tuple[str, bool, str]]) -> list[str]:
        """``field 'x': <why>`` for each ``(field, is_set, why)`` that is set."""
        return [f"field '{name}': {why}" for name, is_set, why in fields if is_set]
