"""EXPERIMENT: like PIPELINE_RUN, inside a new experiment created for the entry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from perf_tests.errors import RunnerError
from perf_tests.runners.pipeline_base import PipelineOptions, PipelineRunner, unique_name
from perf_tests.runners.registry import register

__all__ = ["ExperimentOptions", "ExperimentRunner"]


class ExperimentOptions(PipelineOptions):
    """An EXPERIMENT entry."""

    mode: Literal["EXPERIMENT"]
    experiment_name: str | None = Field(
        default=None, description="Name of the new experiment (default: unique per test run and entry)."
    )


@register
class ExperimentRunner(PipelineRunner[ExperimentOptions]):
    """Creates an experiment, then keeps ``numTimes`` runs of the pipeline in flight inside it."""

    options_model = ExperimentOptions

    def create_objects(self) -> None:
        name = self.entry.experiment_name or unique_name("perf", self.context.run_id, self.entry.name)
        connection = self.context.settings.connection
        # kfp's create_experiment gets the experiment of that name, or creates it: safe to retry.
        experiment, error = self.retried_call(
            "create_experiment", self.client.create_experiment, name=name,
            description=f"perf-tests run {self.context.run_id}",
            namespace=connection.namespace if connection.multi_user else None, phase="prepare",
        )
        if experiment is None:
            raise RunnerError(f"could not create experiment {name}: {error}")
        self.experiment_id = experiment.experiment_id
        if self.entry.experiment_name is None and str(experiment.experiment_id) not in self.created_experiments:
            # kfp's create_experiment returns an existing experiment of the same name: only the
            # uniquely named one is surely ours to delete.
            self.created_experiments.append(str(experiment.experiment_id))
        self.prepare_pipeline()

    async def run_async(self) -> None:
        await self.keep_runs_in_flight()
