"""PIPELINE_SCHEDULED_RUN: a recurring run (cron or interval) that fires for runTime; its runs are tracked.

At the end the recurring run is disabled first, then its runs are collected a last time, then it is
deleted (all measured): a run fired between the last look and the disable is still found, followed for
``drainTime`` and cleaned up. Runs it started that are still going are terminated at cleanup.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from perf_tests.errors import RunnerError
from perf_tests.models.durations import Seconds
from perf_tests.runners.pipeline_base import PipelineOptions, PipelineRunner, unique_name
from perf_tests.runners.registry import register

__all__ = ["ScheduledRunOptions", "ScheduledRunRunner"]


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


class ScheduledRunOptions(PipelineOptions):
    """A PIPELINE_SCHEDULED_RUN entry: ``cron`` (KFP's 6-field form, seconds first) or ``intervalSeconds``."""

    operations: ClassVar[tuple[str, ...]] = (
        *PipelineOptions.operations,
        "create_recurring_run",
        "list_runs",
        "disable_recurring_run",
        "delete_recurring_run",
    )
    setup_operations: ClassVar[frozenset[str]] = PipelineOptions.setup_operations | {
        "create_recurring_run", "disable_recurring_run", "delete_recurring_run"}

    mode: Literal["PIPELINE_SCHEDULED_RUN"]
    cron: str | None = Field(default=None, description="Cron schedule, e.g. '0 */1 * * * *' (every minute).")
    interval_seconds: Seconds | None = Field(default=None, description="Periodic schedule instead of cron.")
    max_concurrency: int = Field(default=10, ge=1, le=10, description="Runs of the schedule at once (KFP: 1-10).")
    list_interval: Seconds = Field(default=2.0, gt=0, description="Seconds between looks for new runs.")

    @model_validator(mode="after")
    def _one_schedule(self) -> ScheduledRunOptions:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron (e.g. '0 */1 * * * *') or intervalSeconds")
        if self.cron is not None and len(self.cron.split()) not in (5, 6):
            raise ValueError(f"cron {self.cron!r} must have 6 fields (seconds first) or 5")
        if self.interval_seconds is not None and self.interval_seconds < 1:
            raise ValueError("intervalSeconds must be at least 1")
        return self


@register
class ScheduledRunRunner(PipelineRunner[ScheduledRunOptions]):
    """Creates the recurring run at the start time and follows every run it fires."""

    options_model = ScheduledRunOptions

    def __init__(self, entry: ScheduledRunOptions, context: Any) -> None:
        super().__init__(entry, context)
        self.recurring_run_id: str | None = None
        self._created_at: Any = None
        self._followed: set[str] = set()

    def create_objects(self) -> None:
        self.use_default_experiment()
        self.prepare_pipeline()

    async def run_async(self) -> None:
        cron = self.entry.cron
        if cron is not None and len(cron.split()) == 5:
            cron = "0 " + cron  # KFP cron has a seconds field first
        name = unique_name("perf", self.context.run_id, self.entry.name)
        recurring = await self.measure(
            "create_recurring_run",
            self.client.create_recurring_run,
            experiment_id=self.experiment_id,
            job_name=name,
            cron_expression=cron,
            interval_second=int(self.entry.interval_seconds) if self.entry.interval_seconds else None,
            max_concurrency=self.entry.max_concurrency,
            no_catchup=True,
            params=self.entry.params or None,
            pipeline_id=self.pipeline_id,
            version_id=self.version_id,
            enable_caching=self.context.settings.connection.cache_enabled,
        )
        if recurring is None:
            raise RunnerError("could not create the recurring run (see the create_recurring_run error)")
        self.recurring_run_id = str(recurring.recurring_run_id)
        self._created_at = getattr(recurring, "created_at", None)
        followers: set[asyncio.Task[None]] = set()

        def follow(found: list[tuple[str, float]]) -> None:
            for run_id, created_at in found:
                followers.add(asyncio.create_task(self.follow_run(run_id, created_at)))

        try:
            while not await self.sleep(self.entry.list_interval):
                follow(await self._new_runs())
                followers = {task for task in followers if not task.done()}
        finally:
            # Disable first, then collect: a run fired after the last look is still found and cleaned up.
            disabled = await self._disable_schedule()
            follow(await self._new_runs())
            if not disabled:
                self.mark("note", message="the recurring run could not be disabled: runs it fires after the "
                          "last look for new runs are not tracked or cleaned up")
            await self._delete_schedule()
            if self.entry.drain_time > 0 and followers:
                await asyncio.wait(followers, timeout=self.entry.drain_time)
            await self.gather_cancelled({task for task in followers if not task.done()})

    async def _new_runs(self) -> list[tuple[str, float]]:
        """Runs of the recurring run not seen before, newest first, page by page until the pages reach
        runs older than the recurring run (other entries may share the experiment)."""
        found = []
        token: str | None = None
        since = _epoch(self._created_at)
        while True:
            page = await self.measure(
                "list_runs", self.client.list_runs, experiment_id=self.experiment_id, page_size=100,
                sort_by="created_at desc", page_token=token or "",
            )
            if page is None:
                break
            runs = page.runs or []
            for run in runs:
                run_id = str(run.run_id)
                if getattr(run, "recurring_run_id", None) != self.recurring_run_id or run_id in self._followed:
                    continue
                self._followed.add(run_id)
                self.created_runs.append(run_id)
                self.unfinished_runs.add(run_id)
                created = run.created_at.timestamp() if run.created_at else self.context.clock.wall_now()
                found.append((run_id, created))
            token = getattr(page, "next_page_token", None)
            oldest = _epoch(runs[-1].created_at) if runs else None
            if not token or not runs or since is None or oldest is None or oldest < since:
                break
        return found

    async def _disable_schedule(self) -> bool:
        if self.recurring_run_id is None:
            return True
        outcome = await self.attempt("disable_recurring_run", self.client.disable_recurring_run,
                                     self.recurring_run_id)
        return outcome.error_type is None

    async def _delete_schedule(self) -> None:
        if self.recurring_run_id is None:
            return
        outcome = await self.attempt("delete_recurring_run", self.client.delete_recurring_run,
                                     self.recurring_run_id)
        if outcome.error_type is None:
            self.recurring_run_id = None  # else cleanup tries again

    def context_stats(self) -> str:
        return f"{len(self._followed)} scheduled runs seen, " + super().context_stats()

    def cleanup(self) -> None:
        if self.recurring_run_id is not None and self.client is not None:
            # The end of run() could not delete it (or never got there): disable, then delete, retried.
            self._cleanup_call("disable_recurring_run", self.client.disable_recurring_run, self.recurring_run_id)
            self._cleanup_call("delete_recurring_run", self.client.delete_recurring_run, self.recurring_run_id)
        super().cleanup()
