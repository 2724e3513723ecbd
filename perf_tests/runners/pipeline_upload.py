"""PIPELINE_UPLOAD: ``numTimes`` uploads of the pipeline, spread evenly over runTime.

Upload i is due at ``startTime + i * runTime / numTimes`` on the shared clock and starts then, whether or
not earlier uploads have answered, up to the runner's blocking-call threads at once. An upload that cannot
start within ``maxLateness`` of its due time (every thread busy: the target or the harness cannot keep
up) is not made: it is counted as ``dropped`` on ``upload_pipeline``, and the entry's notes say how many
of the planned uploads were made, so a plan the run could not carry out never passes silently.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import ClassVar, Literal

from pydantic import Field

from perf_tests.models.durations import Seconds
from perf_tests.models.scenario import PipelineEntry
from perf_tests.recorder.events import AggregateRecord
from perf_tests.recorder.stats import new_histogram
from perf_tests.runners.pipeline_base import PipelineRunner, unique_name
from perf_tests.runners.registry import register

__all__ = ["PipelineUploadOptions", "PipelineUploadRunner"]


class PipelineUploadOptions(PipelineEntry):
    """A PIPELINE_UPLOAD entry: ``numTimes`` is the number of uploads."""

    operations: ClassVar[tuple[str, ...]] = ("upload_pipeline", "delete_pipeline")
    setup_operations: ClassVar[frozenset[str]] = frozenset(operations)  # no rate, as for the pipeline modes

    mode: Literal["PIPELINE_UPLOAD"]
    max_lateness: Seconds = Field(
        default=1.0, gt=0, description="An upload that cannot start within this time of its due time is dropped."
    )


@register
class PipelineUploadRunner(PipelineRunner[PipelineUploadOptions]):  # type: ignore[type-var]
    """Upload i happens at ``startTime + i * runTime / numTimes`` on the shared clock."""

    options_model = PipelineUploadOptions

    def __init__(self, entry: PipelineUploadOptions, context: object) -> None:
        super().__init__(entry, context)
        self.started_uploads = 0
        self.dropped_uploads = 0

    async def run_async(self) -> None:
        entry = self.entry
        interval = entry.run_time / entry.num_times
        slots = asyncio.Semaphore(self.max_blocking_calls)
        uploads: set[asyncio.Task[None]] = set()
        dropped_by_second: Counter[int] = Counter()
        number = 0
        try:
            while number < entry.num_times:
                due_offset = entry.start_time + number * interval
                if await self.sleep(self.context.clock.monotonic_at(due_offset) - self.context.clock.monotonic()):
                    break
                # Start every upload that is due by now (several when the loop woke late).
                while number < entry.num_times:
                    due = self.context.clock.monotonic_at(entry.start_time + number * interval)
                    if due > self.context.clock.monotonic():
                        break
                    if await self._slot(slots, due + entry.max_lateness):
                        task = asyncio.create_task(self._upload(number))
                        task.add_done_callback(lambda _: slots.release())
                        uploads.add(task)
                        task.add_done_callback(uploads.discard)
                    else:
                        dropped_by_second[int(self.context.clock.wall_at(entry.start_time + number * interval))] += 1
                    number += 1
            if uploads:
                await asyncio.wait(uploads)
        finally:
            await self.gather_cancelled({task for task in uploads if not task.done()})
            # Uploads due before the entry stopped that the loop never got to were not made either.
            now = self.context.clock.monotonic()
            while number < entry.num_times and self.context.clock.monotonic_at(
                    entry.start_time + number * interval) <= now:
                dropped_by_second[int(self.context.clock.wall_at(entry.start_time + number * interval))] += 1
                number += 1
            self._account(number, dropped_by_second)

    async def _slot(self, slots: asyncio.Semaphore, deadline: float) -> bool:
        """A free upload thread by ``deadline`` (monotonic); False when there was none in time."""
        if not slots.locked():
            await slots.acquire()
            return True
        left = deadline - self.context.clock.monotonic()
        if left <= 0:
            return False
        try:
            await asyncio.wait_for(slots.acquire(), left)
        except TimeoutError:
            return False
        return True

    async def _upload(self, number: int) -> None:
        assert self.entry.pipeline_path is not None
        self.started_uploads += 1
        name = unique_name("perf", self.context.run_id, self.entry.name, str(number), self.entry.pipeline_path.stem)
        pipeline = await self.measure(
            "upload_pipeline",
            self.client.upload_pipeline,
            on_late_result=lambda late: self.created_pipelines.append(str(late.pipeline_id)),
            pipeline_package_path=str(self.entry.pipeline_path),
            pipeline_name=name,
            description=f"perf-tests run {self.context.run_id}",
            attrs={"pipeline_name": name},
        )
        if pipeline is not None:
            self.created_pipelines.append(str(pipeline.pipeline_id))

    def _account(self, reached: int, dropped_by_second: Counter[int]) -> None:
        """Count the dropped uploads (per second of their due time) and say what was not done."""
        for second, count in sorted(dropped_by_second.items()):
            self.context.events.fire(AggregateRecord(
                self.entry.name, self.entry.mode, "upload_pipeline", second, 0, new_histogram(),
                counters={"dropped": count},
            ))
        self.dropped_uploads = sum(dropped_by_second.values())
        planned = self.entry.num_times
        if self.started_uploads == planned:
            return
        parts = []
        if self.dropped_uploads:
            parts.append(f"{self.dropped_uploads} could not start within maxLateness {self.entry.max_lateness:g}s "
                         f"of their due time (all {self.max_blocking_calls} upload threads busy, or the harness "
                         "fell behind; counted as dropped)")
        if reached < planned:
            parts.append(f"{planned - reached} were not due yet when the entry stopped")
        self.mark("note", message=f"made {self.started_uploads} of the {planned} planned uploads: " + "; ".join(parts),
                  attrs={"uploads_planned": planned, "uploads_made": self.started_uploads,
                         "uploads_dropped": self.dropped_uploads})

    def context_stats(self) -> str:
        return f"{len(self.created_pipelines)} of {self.entry.num_times} pipelines uploaded"
