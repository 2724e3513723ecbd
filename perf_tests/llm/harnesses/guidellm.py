"""The ``guidellm`` harness (the default): GuideLLM 0.8's ``guidellm run``, held by ``perf_tests.llm.process.launcher``.

GuideLLM schedules each request at its targeted time (constant: evenly spaced; poisson: exponential
gaps) from worker processes, cancels what is still in flight at the end of its window (``incomplete``) and
reports ``request_scheduled_latency`` (from the targeted start, so a generator that fell behind cannot
hide it). Its ITL is per request, (latency - TTFT) / (output tokens - 1). Everything it does is in
``perf_tests.llm.command`` (the command line) and ``perf_tests.llm.results.parsing`` (its JSON report).
"""

from __future__ import annotations

from pathlib import Path

from perf_tests.llm.command import HarnessCommand, build_command
from perf_tests.llm.harnesses.harness import Harness
from perf_tests.llm.harnesses.registry import HARNESSES
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.plan import Launch
from perf_tests.llm.results.parsing import GuidellmReport, load_report
from perf_tests.llm.version import check_guidellm

__all__ = ["GuidellmHarness"]


@HARNESSES.register("guidellm")
class GuidellmHarness(Harness):
    """GuideLLM, as LLM_LOAD always ran it."""

    name = "guidellm"

    def check(self) -> str:
        return check_guidellm()

    def build(self, entry: LlmLoadFields, launch: Launch, *, target_url: str, tokenizer: str | Path | None,
              output_path: str | Path, data_path: str | Path | None = None) -> HarnessCommand:
        return build_command(entry, launch, target_url=target_url, tokenizer=tokenizer, output_path=output_path,
                             data_path=data_path)

    def parse(self, path: Path) -> GuidellmReport:
        return load_report(path)
