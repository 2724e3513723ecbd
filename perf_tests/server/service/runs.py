"""Runs: create (from a pipeline version or an inline spec), get, list, delete, terminate, retry, archive
(``/apis/v2beta1/runs``), and the pipeline source and runtime config that recurring runs share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from perf_tests.server.answers import RunAnswer
from perf_tests.server.errors import ApiError
from perf_tests.server.lifecycle import CANCELED, FAILED, PENDING, RUNNING, Timeline, plan_run
from perf_tests.server.pipeline_spec import spec_from_object
from perf_tests.server.service.base import (
    DEFAULT_SERVICE_ACCOUNT,
    EMPTY,
    Query,
    body_object,
    list_plan,
    mapping_field,
    new_id,
    string_field,
)
from perf_tests.server.service.experiments import ExperimentsService
from perf_tests.server.service.pipelines import PipelinesService
from perf_tests.server.store import (
    RUNS,
    ExperimentRow,
    RunRow,
)
from perf_tests.server.timestamps import format_ts
from perf_tests.server.views import (
    run_answer,
    run_list_json,
    run_static_json,
)

__all__ = ["RunsService"]


class RunsService(ExperimentsService, PipelinesService):
    """The run endpoints, and what a run body names (its pipeline source, runtime config, experiment)."""

    def _source(self, data: Mapping[str, Any]) -> tuple[str, str, str, bool]:
        """(pipeline_id, pipeline_version_id, spec digest, embed spec?) of a run or recurring run body."""
        raw_spec = data.get("pipeline_spec", data.get("pipelineSpec"))
        reference = mapping_field(
            data, "pipeline_version_reference", "pipelineVersionReference", message="PipelineVersionReference"
        )
        if raw_spec is not None and reference:
            raise ApiError.invalid("Specify either pipeline_spec or pipeline_version_reference, not both")
        if raw_spec is not None:
            spec = spec_from_object(raw_spec)
            self.store.put_spec(spec)
            return "", "", spec.digest, True
        legacy_version = string_field(data, "pipeline_version_id", "pipelineVersionId")
        reference = reference or {}
        pipeline_id = string_field(
            reference, "pipeline_id", "pipelineId", what="pipeline_version_reference.pipeline_id"
        )
        version_id = (
            string_field(
                reference,
                "pipeline_version_id",
                "pipelineVersionId",
                what="pipeline_version_reference.pipeline_version_id",
            )
            or legacy_version
        )
        if version_id:
            version = self._version(pipeline_id, version_id)
        elif pipeline_id:
            self._pipeline(pipeline_id)
            latest = self.store.latest_version(pipeline_id)
            if latest is None:
                raise ApiError.failed_precondition(f"Pipeline {pipeline_id} has no versions to run")
            version = latest
        else:
            raise ApiError.invalid("A pipeline source is required: pipeline_spec or pipeline_version_reference")
        return version.pipeline_id, version.pipeline_version_id, version.spec_digest, False

    def _runtime_config(self, data: Mapping[str, Any]) -> dict[str, Any]:
        config = mapping_field(data, "runtime_config", "runtimeConfig", message="RuntimeConfig") or {}
        parameters = config.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise ApiError.invalid("runtime_config.parameters must be a JSON object")
        result: dict[str, Any] = {}
        if parameters:
            result["parameters"] = parameters
        root = string_field(config, "pipeline_root", "pipelineRoot", what="runtime_config.pipeline_root")
        if root:
            result["pipeline_root"] = root
        return result

    def _experiment_for(self, data: Mapping[str, Any]) -> ExperimentRow:
        experiment_id = string_field(data, "experiment_id", "experimentId")
        if not experiment_id and self.config.multi_user:
            # ResourceManager.GetValidExperimentNamespacePair
            raise ApiError.invalid("Experiment id can not be empty in multi-user mode")
        if not experiment_id:
            experiment_id = self.ensure_default_experiment()
        return self._experiment(experiment_id)

    # -- runs ------------------------------------------------------------------------------------

    def create_run(self, body: bytes, query: Query | None = None) -> bytes:
        """``POST /runs``."""
        data = body_object(body, "Run")
        if query and query.get("experiment_id") and not data.get("experiment_id"):
            data["experiment_id"] = query["experiment_id"]
        name = string_field(data, "display_name", "displayName").strip()
        if not name:
            raise ApiError.invalid("Failed to create a run: display_name is required")
        runtime_config = self._runtime_config(data)
        experiment = self._experiment_for(data)
        pipeline_id, version_id, digest, embed = self._source(data)
        row = self._new_run(
            name=name,
            description=string_field(data, "description"),
            experiment=experiment,
            pipeline_id=pipeline_id,
            version_id=version_id,
            digest=digest,
            embed=embed,
            runtime_config=runtime_config,
            service_account=string_field(data, "service_account", "serviceAccount") or DEFAULT_SERVICE_ACCOUNT,
            recurring_run_id="",
            now=self.clock(),
            scheduled_at=None,
        )
        answer, _ = run_answer(
            row, row.created_at, self.store.spec_bytes(digest) if embed else None, whole_seconds=self._whole_seconds
        )
        return answer.body()

    def _new_run(
        self,
        *,
        name: str,
        description: str,
        experiment: ExperimentRow,
        pipeline_id: str,
        version_id: str,
        digest: str,
        embed: bool,
        runtime_config: dict[str, Any],
        service_account: str,
        recurring_run_id: str,
        now: float,
        scheduled_at: float | None,
    ) -> RunRow:
        run_id = new_id()
        _, task_names = self.store.spec(digest)
        plan = plan_run(len(task_names), self.config, self.rng)
        timeline = Timeline.start(now, plan)
        created = float(math.floor(now)) if self._whole_seconds else now
        scheduled = created if scheduled_at is None else scheduled_at
        static = run_static_json(
            {
                "experiment_id": experiment.experiment_id,
                "run_id": run_id,
                "display_name": name,
                "description": description,
                "pipeline_version_reference": (
                    {"pipeline_id": pipeline_id, "pipeline_version_id": version_id} if version_id else None
                ),
                "runtime_config": runtime_config,
                "service_account": service_account,
                "created_at": format_ts(created),
                "scheduled_at": format_ts(scheduled),
                "recurring_run_id": recurring_run_id,
            }
        )
        row = RunRow(
            run_id=run_id,
            experiment_id=experiment.experiment_id,
            namespace=experiment.namespace,
            display_name=name,
            description=description,
            created_at=created,
            scheduled_at=scheduled,
            storage_state="AVAILABLE",
            pipeline_id=pipeline_id,
            pipeline_version_id=version_id,
            recurring_run_id=recurring_run_id,
            spec_digest=digest,
            embed_spec=int(embed),
            static_json=static,
            seg_start=timeline.seg_start,
            start_at=timeline.start_at,
            end_at=timeline.end_at,
            outcome=timeline.outcome,
            task_slot=timeline.task_slot,
            cancel_at=None,
            canceled_at=None,
            history_json=None,
        )
        self.store.insert_run(row, experiment.last_run_created_at)
        return row

    def _run(self, run_id: str) -> RunRow:
        row = self.store.get_run(run_id)
        if row is None:
            raise ApiError.not_found("Run", run_id)
        self._authorize(row.namespace)
        return row

    def _answer(self, row: RunRow, now: float) -> RunAnswer:
        """A run's answer with task details, kept by the store once the run has ended."""
        _, task_names = self.store.spec(row.spec_digest)
        spec = self.store.spec_bytes(row.spec_digest) if row.embed_spec else None
        answer, final = run_answer(row, now, spec, task_names, whole_seconds=self._whole_seconds)
        if final:
            self.store.answers.put(row.run_id, answer)
        return answer

    def get_run(self, run_id: str) -> bytes:
        """``GET /runs/{id}``, with task details; a finished run's answer is the one the store keeps."""
        kept = self.store.answers.get(run_id)
        if kept is not None and not self.config.multi_user:
            return kept.body()
        row = self._run(run_id)  # exists, and the user may see it
        return (kept or self._answer(row, self.clock())).body()

    def list_runs(self, query: Query) -> bytes:
        """``GET /runs`` (by experiment, namespace, filter, sort, page); an unknown experiment is NOT_FOUND
        (``BaseRunServer.listRuns`` reads its namespace first).

        Each run carries ``run_details.task_details`` as in ``get_run``: ``RunStore.ListRuns`` joins the
        tasks table (``addMetricsResourceReferencesAndTasks``), so pages weigh what real pages weigh.
        The page query reads only run ids (from the sort index alone); finished runs are answered from
        the store's kept answers, the others from their rows.
        """
        plan = list_plan(
            RUNS,
            query,
            scope=self._run_scope(query),
        )
        now = self.clock()
        plan.columns = "run_id"
        rows, token, total = self.store.list_page(plan, now)
        kept = self.store.answers.get
        found = [kept(row[0]) for row in rows]
        missing = [row[0] for row, answer in zip(rows, found, strict=True) if answer is None]
        full = self.store.get_runs(missing) if missing else {}
        page = [answer or self._answer(full[row[0]], now) for row, answer in zip(rows, found, strict=True)]
        return run_list_json(page, total, token)

    def delete_run(self, run_id: str) -> str:
        """``DELETE /runs/{id}``."""
        self.store.delete_run(self._run(run_id))
        return EMPTY

    def terminate_run(self, run_id: str) -> str:
        """``POST /runs/{id}:terminate``: CANCELING, then CANCELED.

        Only a PENDING or RUNNING run (PAUSED and UNSPECIFIED do not occur here) can be terminated:
        ``RunStore.TerminateRun`` updates ``WHERE State IN (...)`` and answers INVALID_ARGUMENT (HTTP 400)
        when no row changed, so terminating a finished or already CANCELING run is an error.
        """
        row = self._run(run_id)
        now = self.clock()
        timeline = row.timeline()
        state = timeline.state(now)
        terminated = timeline.terminated(now, self.config.canceling_seconds) if state in (PENDING, RUNNING) else None
        if terminated is None:
            raise ApiError.invalid(
                f"Failed to terminate run {run_id}: Failed to terminate a run {run_id}. Row not found"
            )
        self.store.update_run_timeline(run_id, terminated)
        return EMPTY

    def retry_run(self, run_id: str) -> str:
        """``POST /runs/{id}:retry``: a FAILED or CANCELED run starts a new attempt."""
        row = self._run(run_id)
        now = self.clock()
        timeline = row.timeline()
        state = timeline.state(now)
        if state not in (FAILED, CANCELED):
            # Workflow.GenerateRetryExecution: NewBadRequestError (ABORTED, HTTP 409) unless Failed/Error.
            raise ApiError.aborted(
                f"Failed to retry run {run_id}: Workflow must be Failed/Error to retry (it is {state})"
            )
        _, task_names = self.store.spec(row.spec_digest)
        self.store.update_run_timeline(run_id, timeline.retried(now, plan_run(len(task_names), self.config, self.rng)))
        return EMPTY

    def set_run_archived(self, run_id: str, archived: bool) -> str:
        """``POST /runs/{id}:archive`` and ``:unarchive``; unarchiving a run of an archived experiment is
        FAILED_PRECONDITION (``ResourceManager.UnarchiveRun``)."""
        row = self._run(run_id)
        if not archived:
            experiment = self.store.get_experiment(row.experiment_id)
            if experiment is not None and experiment.storage_state == "ARCHIVED":
                raise ApiError.failed_precondition(
                    f"Failed to unarchive run {run_id} as experiment {row.experiment_id} must be un-archived first"
                )
        self.store.set_run_storage(run_id, "ARCHIVED" if archived else "AVAILABLE")
        return EMPTY
