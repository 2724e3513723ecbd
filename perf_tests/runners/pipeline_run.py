"""PIPELINE_RUN: upload a pipeline once and keep ``numTimes`` runs in flight in the default experiment."""

from __future__ import annotations

from typing import Literal

from perf_tests.runners.pipeline_base import PipelineOptions, PipelineRunner
from perf_tests.runners.registry import register

__all__ = ["PipelineRunOptions", "PipelineRunRunner"]


class PipelineRunOptions(PipelineOptions):
    """A PIPELINE_RUN entry."""

    mode: Literal["PIPELINE_RUN"]


@register
class PipelineRunRunner(PipelineRunner[PipelineRunOptions]):
    """Runs the pipeline in the default experiment, ``numTimes`` at a time, until runTime ends."""

    options_model = PipelineRunOptions

    def create_objects(self) -> None:
        self.use_default_experiment()
        self.prepare_pipeline()

    async def run_async(self) -> None:
        await self.keep_runs_in_flight()
