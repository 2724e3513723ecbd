"""Starts one runner per scenario entry in a thread pool on one shared clock and stops each at its end.

Two phases: every runner's ``setup`` runs concurrently first; when all have finished (or failed), the
scheduler starts the clock (t0) and every runner's ``execute`` waits for its own start time. The
scheduler's thread calls ``stop()`` on each at ``t0 + end_offset`` and waits for every runner to return.
A runner that does not return within ``stop_grace`` seconds of its stop is reported as hung and
abandoned.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from perf_tests.errors import PerfTestsError
from perf_tests.logger.redaction import redact
from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.protocol import ScheduledRunner

__all__ = ["RunnerResult", "Scheduler"]

logger = logging.getLogger(__name__)


@dataclass
class RunnerResult:
    """How one runner's lifecycle ended."""

    name: str
    ok: bool
    error: str | None = None
    hung: bool = False


class Scheduler:
    """Runs every runner on the shared clock."""

    def __init__(
        self,
        runners: Sequence[ScheduledRunner],
        clock: Clock,
        abort: threading.Event,
        stop_grace: float = 30.0,
        progress_interval: float | None = 10.0,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        self.runners = list(runners)
        self.clock = clock
        self.abort = abort
        self.stop_grace = stop_grace
        self.progress_interval = progress_interval
        self.on_progress = on_progress or logger.info
        self._stopped: set[str] = set()

    def run(self) -> list[RunnerResult]:
        """Run every runner to its end; never raises for a runner's failure."""
        if not self.runners:
            return []
        pool = ThreadPoolExecutor(max_workers=len(self.runners), thread_name_prefix="runner")
        setups = [pool.submit(runner.setup) for runner in self.runners]
        while not all(future.done() for future in setups):
            if self.abort.wait(timeout=0.05):
                for runner in self.runners:
                    runner.stop()
        self.clock.start()
        futures: dict[str, Future[None]] = {r.name: pool.submit(r.execute) for r in self.runners}
        stop_times: dict[str, float] = {}
        next_progress = time.monotonic() + (self.progress_interval or float("inf"))
        try:
            while True:
                now = time.monotonic()
                pending = [r for r in self.runners if not futures[r.name].done()]
                if not pending:
                    break
                for runner in pending:
                    due = self.abort.is_set() or now >= self.clock.monotonic_at(runner.end_offset)
                    if due and runner.name not in stop_times:
                        stop_times[runner.name] = now
                        runner.stop()
                if all(
                    r.name in stop_times and now - stop_times[r.name] > self.stop_grace for r in pending
                ):
                    break
                if now >= next_progress:
                    self._report_progress(pending)
                    next_progress = now + (self.progress_interval or float("inf"))
                wake = min(
                    [self.clock.monotonic_at(r.end_offset) for r in pending if r.name not in stop_times]
                    + [next_progress, now + 0.5]
                )
                self.abort.wait(timeout=max(0.01, min(wake - time.monotonic(), 0.5)))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return [self._result(r, futures[r.name]) for r in self.runners]

    def _report_progress(self, pending: Sequence[ScheduledRunner]) -> None:
        elapsed = self.clock.elapsed()
        for runner in pending:
            if elapsed < runner.start_offset:
                line = f"starts in {runner.start_offset - elapsed:.0f}s"
            else:
                left = max(0.0, runner.end_offset - elapsed)
                line = f"{runner.progress()} ({left:.0f}s left)" if left else f"{runner.progress()} (stopping)"
            self.on_progress(f"[{runner.name}] {line}")

    def _result(self, runner: ScheduledRunner, future: Future[None]) -> RunnerResult:
        if not future.done():
            return RunnerResult(
                runner.name, ok=False, hung=True,
                error=f"did not stop within {self.stop_grace:g}s of its end time",
            )
        exc = future.exception()
        if exc is None:
            return RunnerResult(runner.name, ok=True)
        if isinstance(exc, PerfTestsError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
            logger.debug("runner %s failed:\n%s", runner.name,
                         redact("".join(traceback.format_exception(exc))))
        return RunnerResult(runner.name, ok=False, error=redact(message))
