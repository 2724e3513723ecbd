"""Starts one runner per scenario entry in a thread pool on one shared clock and stops each at its end.

Two phases: every runner's ``setup`` runs concurrently first; when all have finished (or failed), the
scheduler starts the clock (t0) and every runner's ``execute`` waits for its own start time. The
scheduler's thread calls ``stop()`` on each at ``t0 + end_offset`` and waits for every runner to return.
A runner that does not return within ``stop_grace`` seconds of its stop is reported as hung and
abandoned. An abort during set-up stops every runner, calls ``on_abort_in_setup`` once (the session cuts
the blocking calls under way short) and waits at most ``stop_grace`` seconds for the set-ups: one still
busy then is reported hung and never executed, so an interrupt ends the run in bounded time in every
phase.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from perf_tests.errors import PerfTestsError
from perf_tests.logger.redaction import redact
from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.protocol import ScheduledRunner

__all__ = ["RunnerExit", "Scheduler"]

logger = logging.getLogger(__name__)


@dataclass
class RunnerExit:
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
        on_abort_in_setup: Callable[[], None] | None = None,
    ) -> None:
        self.runners = list(runners)
        self.clock = clock
        self.abort = abort
        self.stop_grace = stop_grace
        self.progress_interval = progress_interval
        self.on_progress = on_progress or logger.info
        self.on_abort_in_setup = on_abort_in_setup
        self._changed = threading.Event()

    def run(self) -> list[RunnerExit]:
        """Run every runner to its end; never raises for a runner's failure."""
        if not self.runners:
            return []
        aborted_at: float | None = None
        if self.abort.is_set():
            # Interrupted before anything started: prepare nothing (nothing to clean up on the target).
            aborted_at = time.monotonic()
            for runner in self.runners:
                runner.stop()
        setups = {} if aborted_at is not None else {
            r.name: self._spawn(r.setup, f"setup-{r.name}") for r in self.runners
        }
        while not all(future.done() for future in setups.values()):
            if self.abort.is_set() and aborted_at is None:
                aborted_at = time.monotonic()
                for runner in self.runners:
                    runner.stop()
                if self.on_abort_in_setup is not None:
                    self.on_abort_in_setup()
            if aborted_at is not None and time.monotonic() - aborted_at > self.stop_grace:
                break  # the set-ups still busy are hung: their daemon threads are abandoned
            left = self.stop_grace - (time.monotonic() - aborted_at) if aborted_at is not None else 0.5
            self._wait(min(0.5, left))
        stuck = {name for name, future in setups.items() if not future.done()}
        self.clock.start()
        futures = {r.name: self._spawn(r.execute, f"runner-{r.name}") for r in self.runners if r.name not in stuck}
        stop_times: dict[str, float] = {}
        next_progress = time.monotonic() + (self.progress_interval or float("inf"))
        while True:
            now = time.monotonic()
            pending = [r for r in self.runners if r.name in futures and not futures[r.name].done()]
            if not pending:
                break
            for runner in pending:
                due = self.abort.is_set() or now >= self.clock.monotonic_at(runner.end_offset)
                if due and runner.name not in stop_times:
                    stop_times[runner.name] = now
                    runner.stop()
            if all(r.name in stop_times and now - stop_times[r.name] > self.stop_grace for r in pending):
                break  # the rest are hung: their daemon threads are abandoned
            if now >= next_progress:
                self._report_progress(pending)
                next_progress = now + (self.progress_interval or float("inf"))
            wake = min(
                [self.clock.monotonic_at(r.end_offset) for r in pending if r.name not in stop_times]
                + [next_progress, now + 0.5]
            )
            self._wait(wake - time.monotonic())
        return [
            RunnerExit(r.name, ok=False, hung=True,
                         error=f"did not finish preparing within {self.stop_grace:g}s of the interrupt; what it "
                               "had set up may be left on the target")
            if r.name in stuck else self._result(r, futures[r.name])
            for r in self.runners
        ]

    def _spawn(self, work: Callable[[], None], name: str) -> Future[None]:
        """Run ``work`` in a daemon thread (a hung runner must not keep the process alive at exit)."""
        future: Future[None] = Future()
        future.set_running_or_notify_cancel()

        def target() -> None:
            try:
                work()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)
            finally:
                self._changed.set()

        threading.Thread(target=target, name=name, daemon=True).start()
        return future

    def _wait(self, seconds: float) -> None:
        """Sleep until a runner thread ends or ``seconds`` pass (at most 0.5 s, so aborts are seen)."""
        self._changed.wait(timeout=max(0.01, min(seconds, 0.5)))
        self._changed.clear()

    def _report_progress(self, pending: Sequence[ScheduledRunner]) -> None:
        elapsed = self.clock.elapsed()
        for runner in pending:
            if elapsed < runner.start_offset:
                line = f"starts in {runner.start_offset - elapsed:.0f}s"
            else:
                left = max(0.0, runner.end_offset - elapsed)
                line = f"{runner.progress()} ({left:.0f}s left)" if left else f"{runner.progress()} (stopping)"
            self.on_progress(f"[{runner.name}] {line}")

    def _result(self, runner: ScheduledRunner, future: Future[None]) -> RunnerExit:
        if not future.done():
            return RunnerExit(
                runner.name, ok=False, hung=True,
                error=f"did not stop within {self.stop_grace:g}s of its end time",
            )
        exc = future.exception()
        if exc is None:
            return RunnerExit(runner.name, ok=True)
        if isinstance(exc, PerfTestsError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
            logger.debug("runner %s failed:\n%s", runner.name,
                         redact("".join(traceback.format_exception(exc))))
        return RunnerExit(runner.name, ok=False, error=redact(message))
