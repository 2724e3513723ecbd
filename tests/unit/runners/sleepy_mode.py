"""TEST_SLEEPY: a throw-away mode proving that adding a mode is one file, an options model and a runner.

Importing this module registers the mode; tests ``unregister("TEST_SLEEPY")`` when done. The runner
naps in a loop (one ``nap`` operation per nap, on the run clock, so a fake clock drives it) until
stopped, and keeps the order of its lifecycle calls in ``calls`` so tests can check it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from perf_tests.errors import RunnerError
from perf_tests.models.durations import Seconds
from perf_tests.models.scenario import ScenarioEntry
from perf_tests.runners.base_runner import BaseRunner
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import register

MODE = "TEST_SLEEPY"


class SleepyOptions(ScenarioEntry):
    """A TEST_SLEEPY entry."""

    operations: ClassVar[tuple[str, ...]] = ("nap",)

    mode: Literal["TEST_SLEEPY"]
    nap: Seconds = Field(default=0.05, gt=0, description="How long each nap lasts.")
    fail_in: Literal["prepare", "run", "cleanup"] | None = Field(
        default=None, description="Phase that raises, to test failure handling."
    )
    fail_message: str = Field(default="the sleeper fell out of bed", description="Message of that failure.")
    clear_error: bool = Field(default=False, description="Raise a RunnerError instead of a RuntimeError.")


@register
class SleepyRunner(BaseRunner[SleepyOptions]):
    """Naps until stopped."""

    options_model = SleepyOptions
    needs_kfp = False

    def __init__(self, entry: SleepyOptions, context: RunContext) -> None:
        super().__init__(entry, context)
        self.calls: list[str] = []

    def _maybe_fail(self, phase: str) -> None:
        if self.entry.fail_in == phase:
            if self.entry.clear_error:
                raise RunnerError(self.entry.fail_message)
            raise RuntimeError(self.entry.fail_message)

    def prepare(self) -> None:
        self.calls.append("prepare")
        self._maybe_fail("prepare")

    def run(self) -> None:
        self.calls.append("run")
        self._maybe_fail("run")
        while not self.stopping.is_set():
            with self.timed("nap"):
                self.stopping.wait(self.entry.nap, clock=self.context.clock)

    def cleanup(self) -> None:
        self.calls.append("cleanup")
        self._maybe_fail("cleanup")
