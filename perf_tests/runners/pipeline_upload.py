"""PIPELINE_UPLOAD: ``numTimes`` uploads of the pipeline, spread evenly over runTime."""

from __future__ import annotations

import time
from typing import ClassVar, Literal

from perf_tests.models.scenario import PipelineEntry
from perf_tests.runners.pipeline_runner import PipelineRunner, unique_name
from perf_tests.runners.registry import register

__all__ = ["PipelineUploadOptions", "PipelineUploadRunner"]


class PipelineUploadOptions(PipelineEntry):
    """A PIPELINE_UPLOAD entry: ``numTimes`` is the number of uploads."""

    operations: ClassVar[tuple[str, ...]] = ("upload_pipeline", "delete_pipeline")

    mode: Literal["PIPELINE_UPLOAD"]


@register
class PipelineUploadRunner(PipelineRunner[PipelineUploadOptions]):  # type: ignore[type-var]
    """Upload i happens at ``startTime + i * runTime / numTimes`` on the shared clock."""

    options_model = PipelineUploadOptions

    async def run_async(self) -> None:
        interval = self.entry.run_time / self.entry.num_times
        assert self.entry.pipeline_path is not None
        for number in range(self.entry.num_times):
            due = self.context.clock.monotonic_at(self.entry.start_time + number * interval)
            if await self.sleep(due - time.monotonic()):
                return
            name = unique_name("perf", self.context.run_id, self.entry.name, str(number), self.entry.pipeline_path.stem)
            pipeline = await self.measure(
                "upload_pipeline",
                self.client.upload_pipeline,
                pipeline_package_path=str(self.entry.pipeline_path),
                pipeline_name=name,
                description=f"perf-tests run {self.context.run_id}",
                attrs={"pipeline_name": name},
            )
            if pipeline is not None:
                self.created_pipelines.append(str(pipeline.pipeline_id))

    def context_stats(self) -> str:
        return f"{len(self.created_pipelines)} of {self.entry.num_times} pipelines uploaded"
