"""KFP v2beta1 semantics over the store: validation, defaults, ids, run simulation and recurring runs.

Each public method serves one endpoint: it takes the decoded path, query and body, and returns the JSON
text to answer with, or raises :class:`~perf_tests.server.errors.ApiError`. Nothing here knows about
HTTP, so the behaviour is testable without a socket; :mod:`perf_tests.server.app` does the HTTP.
"""

from __future__ import annotations

import json
import logging
import math
import random
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from perf_tests.server.config import SimulatorConfig
from perf_tests.server.cron import CronSchedule
from perf_tests.server.errors import ApiError, GrpcCode
from perf_tests.server.lifecycle import CANCELED, FAILED, PENDING, RUNNING, Timeline, plan_run
from perf_tests.server.listing import plan_list
from perf_tests.server.messages import check_fields
from perf_tests.server.pipeline_spec import PipelineSpec, load_package, spec_from_object
from perf_tests.server.store import (
    EXPERIMENTS,
    PIPELINE_VERSIONS,
    PIPELINES,
    RECURRING_RUNS,
    RUN_CACHE_COLUMNS,
    RUNS,
    ExperimentRow,
    PipelineRow,
    PipelineVersionRow,
    RecurringRunRow,
    RunRow,
    Store,
)
from perf_tests.server.timestamps import format_ts, parse_ts
from perf_tests.server.views import (
    RunJsonCache,
    experiment_json,
    join_run,
    list_json,
    pipeline_json,
    pipeline_version_json,
    recurring_run_json,
    run_json,
    run_static_json,
)

__all__ = ["EMPTY", "KfpService"]

logger = logging.getLogger(__name__)

EMPTY = "{}"
"""The body of ``google.protobuf.Empty`` answers (delete, archive, terminate, ...)."""

DEFAULT_EXPERIMENT = "Default"
DEFAULT_SERVICE_ACCOUNT = "pipeline-runner"
_MAX_FIRES_PER_TICK = 50
_MAX_CATCHUP_SKIP = 100_000

Query = Mapping[str, str]


def _new_id() -> str:
    return str(uuid.uuid4())


def _object(body: bytes, message: str) -> dict[str, Any]:
    if not body.strip():
        raise ApiError.invalid("The request body is empty; expected a JSON object")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError.invalid(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError.invalid("The request body must be a JSON object")
    check_fields(value, message)
    return value


def _string(source: Mapping[str, Any], *keys: str, what: str = "") -> str:
    """The first present key of ``keys`` (snake_case and camelCase spellings) as a string, or ``""``."""
    for key in keys:
        value = source.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ApiError.invalid(f"{what or keys[0]} must be a string, got {type(value).__name__}")
        return value
    return ""


def _mapping(source: Mapping[str, Any], *keys: str, message: str | None = None) -> dict[str, Any] | None:
    for key in keys:
        value = source.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ApiError.invalid(f"{keys[0]} must be a JSON object")
        if message is not None:
            check_fields(value, message)
        return value
    return None


def _integer(source: Mapping[str, Any], *keys: str, default: int) -> int:
    for key in keys:
        value = source.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int | str | float):
            raise ApiError.invalid(f"{keys[0]} must be an integer")
        try:
            number = int(value)
        except ValueError:
            raise ApiError.invalid(f"{keys[0]} must be an integer, got {value!r}") from None
        if isinstance(value, float) and value != number:
            raise ApiError.invalid(f"{keys[0]} must be an integer, got {value!r}")
        return number
    return default


def _timestamp(source: Mapping[str, Any], *keys: str) -> float | None:
    text = _string(source, *keys)
    if not text:
        return None
    try:
        return parse_ts(text)
    except ValueError:
        raise ApiError.invalid(f"{keys[0]} must be an RFC 3339 timestamp, got {text!r}") from None


def _plan(listable: Any, query: Query, scope: Mapping[str, Any]) -> Any:
    """A list query's plan from the request's paging, sort and filter parameters."""
    return plan_list(
        listable,
        page_token=query.get("page_token"),
        page_size=query.get("page_size"),
        sort_by=query.get("sort_by"),
        filter_text=query.get("filter"),
        scope=scope,
    )


class KfpService:
    """The simulated KFP API server, minus HTTP.

    ``rng`` drives the simulated run fates (and nothing else), so a seeded server replays the same
    outcomes for the same sequence of requests. ``on_schedule_change`` is called whenever a recurring
    run's next fire time may have moved, so the scheduler can wake up.
    """

    def __init__(
        self,
        store: Store,
        config: SimulatorConfig,
        rng: random.Random,
        clock: Callable[[], float],
        on_schedule_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.config = config
        self.rng = rng
        self.clock = clock
        self.on_schedule_change = on_schedule_change
        self.run_cache = RunJsonCache()
        self.current_user: str | None = None
        """The identity of the request being answered (multi-user mode; set by the HTTP layer)."""
        self.ensure_default_experiment()

    # -- helpers ---------------------------------------------------------------------------------

    def _namespace(self, value: str | None) -> str:
        """Single-user mode has no namespaces (``ResourceManager.ReplaceNamespace``): stored as ``""``."""
        return (value or "") if self.config.multi_user else ""

    def _authorize(self, namespace: str) -> None:
        """Multi-user: the request's user must have access to ``namespace`` (``ResourceManager.IsAuthorized``,
        whose SubjectAccessReview is the configured access table here); shared objects (``""``) are open."""
        if not self.config.multi_user or not namespace:
            return
        user = self.current_user
        if user is None:
            raise ApiError(
                GrpcCode.UNAUTHENTICATED,
                "Failed to check authorization. User identity is empty in the request header",
            )
        if namespace not in self.config.namespace_access.get(user, ()):
            raise ApiError(
                GrpcCode.PERMISSION_DENIED,
                f"User '{user}' is not authorized with reason: no access to namespace '{namespace}' "
                "(the embedded KFP simulator's namespace_access)",
            )

    def _authorized_namespace(self, value: str | None) -> str:
        """A namespace that may be empty (shared pipelines), authorized when given."""
        namespace = self._namespace(value)
        self._authorize(namespace)
        return namespace

    def _required_namespace(self, value: str | None, what: str) -> str:
        """Multi-user: a namespace is required (and authorized); single-user: always ``""``."""
        namespace = self._namespace(value)
        if self.config.multi_user:
            if not namespace:
                raise ApiError.invalid(f"{what} requires a namespace in multi-user mode")
            self._authorize(namespace)
        return namespace

    def ensure_default_experiment(self) -> str:
        """The id of the ``Default`` experiment, creating it if missing (as the API server does at start)."""
        experiment_id = self.store.get_meta("default_experiment_id")
        if experiment_id and self.store.get_experiment(experiment_id):
            return experiment_id
        existing = self.store.find_experiment("", DEFAULT_EXPERIMENT)
        if existing is None:
            now = self._whole_now()
            existing = ExperimentRow(
                experiment_id=_new_id(),
                display_name=DEFAULT_EXPERIMENT,
                description="All runs created without specifying an experiment will be grouped here.",
                namespace="",
                created_at=now,
                storage_state="AVAILABLE",
                last_run_created_at=0.0,
            )
            self.store.insert_experiment(existing)
        self.store.set_meta("default_experiment_id", existing.experiment_id)
        return existing.experiment_id

    @property
    def _whole_seconds(self) -> bool:
        return self.config.timestamp_precision == "seconds"

    def _whole_now(self) -> float:
        """Now as stored: whole seconds like the store's ``CreatedAtInSec`` (objects created in one second
        tie on ``created_at`` and are ordered by id, as in the real store), unless milliseconds are asked for."""
        now = self.clock()
        return float(math.floor(now)) if self._whole_seconds else now

    def _run_scope(self, query: Query) -> dict[str, Any]:
        """The scope of a run or recurring run list: an experiment (which must exist, ``BaseRunServer.listRuns``
        and ``BaseJobServer.listJobs`` fetch its namespace first) or a namespace."""
        experiment_id = query.get("experiment_id")
        if experiment_id:
            namespace = self.store.experiment_namespace(experiment_id)
            if namespace is None:
                raise ApiError.not_found("Experiment", experiment_id)
            self._authorize(namespace)  # the experiment's namespace wins over a namespace parameter
            return {"experiment_id": experiment_id}
        return {"namespace": self._required_namespace(query.get("namespace"), "Listing runs or recurring runs")}

    def _spec_json(self, digest: str) -> str:
        return self.store.spec(digest)[0]

    # -- healthz ---------------------------------------------------------------------------------

    def healthz(self) -> str:
        """``GET /healthz`` as ``newHealthzResponse`` (``apiserver/main.go``) writes it."""
        config = self.config
        return json.dumps(
            {
                "commit_sha": config.commit_sha,
                "tag_name": config.tag_name,
                "multi_user": config.multi_user,
                "pipeline_store": "database",
            }
        )

    # -- experiments -----------------------------------------------------------------------------

    def create_experiment(self, body: bytes) -> str:
        """``POST /experiments``."""
        data = _object(body, "Experiment")
        name = _string(data, "display_name", "displayName", "name").strip()
        if not name:
            raise ApiError.invalid("Experiment must have a non-empty display_name")
        row = ExperimentRow(
            experiment_id=_new_id(),
            display_name=name,
            description=_string(data, "description"),
            namespace=self._required_namespace(_string(data, "namespace"), "Creating an experiment"),
            created_at=self._whole_now(),
            storage_state="AVAILABLE",
            last_run_created_at=0.0,
        )
        try:
            self.store.insert_experiment(row)
        except sqlite3.IntegrityError:
            raise ApiError.already_exists(
                f"Failed to create experiment: an experiment named {name!r} already exists in this namespace"
            ) from None
        return experiment_json(row)

    def _experiment(self, experiment_id: str) -> ExperimentRow:
        row = self.store.get_experiment(experiment_id)
        if row is None:
            raise ApiError.not_found("Experiment", experiment_id)
        self._authorize(row.namespace)
        return row

    def get_experiment(self, experiment_id: str) -> str:
        """``GET /experiments/{id}``."""
        return experiment_json(self._experiment(experiment_id))

    def list_experiments(self, query: Query) -> str:
        """``GET /experiments``."""
        plan = _plan(
            EXPERIMENTS,
            query,
            scope={"namespace": self._required_namespace(query.get("namespace"), "Listing experiments")},
        )
        rows, token, total = self.store.list_page(plan, self.clock())
        items = [experiment_json(ExperimentRow._make(row[:-1])) for row in rows]
        return list_json("experiments", items, total, token)

    def delete_experiment(self, experiment_id: str) -> str:
        """``DELETE /experiments/{id}``; the Default experiment is refused (``ResourceManager.DeleteExperiment``:
        ``NewBadRequestError``, i.e. ABORTED / HTTP 409)."""
        self._experiment(experiment_id)
        if experiment_id == self.store.get_meta("default_experiment_id"):
            raise ApiError.aborted(
                f"Failed to delete experiment {experiment_id}. The default experiment cannot be deleted"
            )
        if not self.store.delete_experiment(experiment_id):
            raise ApiError.not_found("Experiment", experiment_id)
        return EMPTY

    def set_experiment_archived(self, experiment_id: str, archived: bool) -> str:
        """``POST /experiments/{id}:archive`` and ``:unarchive``."""
        self._experiment(experiment_id)
        self.store.set_experiment_storage(experiment_id, "ARCHIVED" if archived else "AVAILABLE")
        return EMPTY

    # -- pipelines -------------------------------------------------------------------------------

    def upload_pipeline(self, query: Query, data: bytes, filename: str) -> str:
        """``POST /pipelines/upload`` (multipart ``uploadfile``)."""
        spec = load_package(data, filename)
        name = (query.get("name") or query.get("display_name") or _stem(filename) or spec.name).strip()
        if not name:
            raise ApiError.invalid("Failed to upload pipeline: the pipeline name is empty")
        now = self._whole_now()
        pipeline = PipelineRow(
            pipeline_id=_new_id(),
            name=name,
            display_name=(query.get("display_name") or name).strip(),
            description=query.get("description") or "",
            namespace=self._authorized_namespace(query.get("namespace")),
            created_at=now,
        )
        version = PipelineVersionRow(
            pipeline_version_id=_new_id(),
            pipeline_id=pipeline.pipeline_id,
            name=name,
            display_name=pipeline.display_name,
            description=pipeline.description,
            created_at=now,
            spec_digest=spec.digest,
            code_source_url="",
            package_url="",
        )
        self._insert_pipeline(pipeline, version, spec)
        return pipeline_json(pipeline)

    def _insert_pipeline(
        self, pipeline: PipelineRow, version: PipelineVersionRow | None, spec: PipelineSpec | None
    ) -> None:
        if spec is not None:
            self.store.put_spec(spec)
        try:
            self.store.insert_pipeline(pipeline, version)
        except sqlite3.IntegrityError:
            raise ApiError.already_exists(
                f"Failed to create a pipeline: a pipeline named {pipeline.name!r} already exists in this namespace"
            ) from None

    def upload_pipeline_version(self, query: Query, data: bytes, filename: str) -> str:
        """``POST /pipelines/upload_version`` (multipart ``uploadfile``, ``pipelineid`` query)."""
        pipeline_id = query.get("pipelineid") or query.get("pipeline_id") or ""
        if not pipeline_id:
            raise ApiError.invalid("Failed to upload a pipeline version: the pipelineid query parameter is missing")
        self._pipeline(pipeline_id)
        spec = load_package(data, filename)
        name = (query.get("name") or query.get("display_name") or _stem(filename) or spec.name).strip()
        version = PipelineVersionRow(
            pipeline_version_id=_new_id(),
            pipeline_id=pipeline_id,
            name=name,
            display_name=(query.get("display_name") or name).strip(),
            description=query.get("description") or "",
            created_at=self._whole_now(),
            spec_digest=spec.digest,
            code_source_url="",
            package_url="",
        )
        self._insert_version(version, spec)
        return pipeline_version_json(version, spec.json_text)

    def _insert_version(self, version: PipelineVersionRow, spec: PipelineSpec) -> None:
        self.store.put_spec(spec)
        try:
            self.store.insert_version(version)
        except sqlite3.IntegrityError:
            raise ApiError.already_exists(
                f"Failed to create a pipeline version: pipeline {version.pipeline_id} already has a version "
                f"named {version.name!r}"
            ) from None

    def create_pipeline(self, body: bytes) -> str:
        """``POST /pipelines``: a pipeline without versions."""
        pipeline = self._pipeline_from(_object(body, "Pipeline"))
        self._insert_pipeline(pipeline, None, None)
        return pipeline_json(pipeline)

    def _pipeline_from(self, data: Mapping[str, Any]) -> PipelineRow:
        name = _string(data, "name").strip()
        display = _string(data, "display_name", "displayName").strip()
        name = name or display
        if not name:
            raise ApiError.invalid("Failed to create a pipeline: name or display_name is required")
        return PipelineRow(
            pipeline_id=_new_id(),
            name=name,
            display_name=display or name,
            description=_string(data, "description"),
            namespace=self._authorized_namespace(_string(data, "namespace")),
            created_at=self._whole_now(),
        )

    def _version_from(self, data: Mapping[str, Any], pipeline_id: str) -> tuple[PipelineVersionRow, PipelineSpec]:
        raw_spec = data.get("pipeline_spec", data.get("pipelineSpec"))
        package = _mapping(data, "package_url", "packageUrl", message="Url") or {}
        package_url = _string(package, "pipeline_url", "pipelineUrl", what="package_url.pipeline_url")
        if raw_spec is None:
            raise ApiError.invalid(
                "Failed to create a pipeline version: the embedded KFP simulator cannot fetch package_url "
                f"{package_url!r}; send the compiled spec as pipeline_spec or use /pipelines/upload_version"
            )
        spec = spec_from_object(raw_spec)
        name = _string(data, "name").strip() or _string(data, "display_name", "displayName").strip()
        if not name:
            raise ApiError.invalid("Failed to create a pipeline version: name or display_name is required")
        version = PipelineVersionRow(
            pipeline_version_id=_new_id(),
            pipeline_id=pipeline_id,
            name=name,
            display_name=_string(data, "display_name", "displayName").strip() or name,
            description=_string(data, "description"),
            created_at=self._whole_now(),
            spec_digest=spec.digest,
            code_source_url=_string(data, "code_source_url", "codeSourceUrl"),
            package_url=package_url,
        )
        return version, spec

    def create_pipeline_and_version(self, body: bytes) -> str:
        """``POST /pipelines/create``: a pipeline and its first version."""
        data = _object(body, "CreatePipelineAndVersionRequest")
        pipeline = self._pipeline_from(_mapping(data, "pipeline", message="Pipeline") or {})
        version, spec = self._version_from(
            _mapping(data, "pipeline_version", "pipelineVersion", message="PipelineVersion") or {}, pipeline.pipeline_id
        )
        self._insert_pipeline(pipeline, version, spec)
        return pipeline_json(pipeline)

    def create_pipeline_version(self, pipeline_id: str, body: bytes) -> str:
        """``POST /pipelines/{id}/versions``."""
        self._pipeline(pipeline_id)
        data = _object(body, "PipelineVersion")
        version, spec = self._version_from(data, pipeline_id)
        self._insert_version(version, spec)
        return pipeline_version_json(version, spec.json_text)

    def _pipeline(self, pipeline_id: str) -> PipelineRow:
        row = self.store.get_pipeline(pipeline_id)
        if row is None:
            raise ApiError.not_found("Pipeline", pipeline_id)
        self._authorize(row.namespace)
        return row

    def get_pipeline(self, pipeline_id: str) -> str:
        """``GET /pipelines/{id}``."""
        return pipeline_json(self._pipeline(pipeline_id))

    def get_pipeline_by_name(self, name: str, query: Query) -> str:
        """``GET /pipelines/names/{name}``."""
        namespace = self._namespace(query.get("namespace"))
        self._authorize(namespace)
        row = self.store.find_pipeline(namespace, name)
        if row is None:
            raise ApiError.not_found("Pipeline named", repr(name))
        return pipeline_json(row)

    def list_pipelines(self, query: Query) -> str:
        """``GET /pipelines``."""
        namespace = self._namespace(query.get("namespace"))
        self._authorize(namespace)
        plan = _plan(PIPELINES, query, scope={"namespace": namespace})
        rows, token, total = self.store.list_page(plan, self.clock())
        return list_json("pipelines", [pipeline_json(PipelineRow._make(r[:-1])) for r in rows], total, token)

    def delete_pipeline(self, pipeline_id: str, query: Query) -> str:
        """``DELETE /pipelines/{id}``: refused while versions exist unless ``cascade=true``
        (``ResourceManager.DeletePipeline``: INVALID_ARGUMENT)."""
        self._pipeline(pipeline_id)
        cascade = (query.get("cascade") or "").lower() in ("true", "1")
        latest = self.store.latest_version(pipeline_id)
        if latest is not None and not cascade:
            raise ApiError.invalid(
                f"Failed to delete pipeline with id {pipeline_id} as it has existing pipeline versions (e.g. "
                f"{latest.pipeline_version_id}). Set cascade=true to delete all versions"
            )
        self.store.delete_pipeline(pipeline_id)
        return EMPTY

    def update_pipeline(self, pipeline_id: str, body: bytes) -> str:
        """``PATCH /pipelines/{id}`` (body: the ``Pipeline``): a new ``display_name`` if one is given
        (``PipelineServer.UpdatePipeline`` → ``ResourceManager.UpdatePipeline``)."""
        data = _object(body, "Pipeline")
        self._pipeline(pipeline_id)
        display = _string(data, "display_name", "displayName").strip()
        if display:
            self.store.update_display_name("pipelines", "pipeline_id", pipeline_id, display)
        return pipeline_json(self._pipeline(pipeline_id))

    def update_pipeline_version(self, pipeline_id: str, version_id: str, body: bytes) -> str:
        """``PATCH /pipelines/{id}/versions/{version_id}`` (body: the ``PipelineVersion``)."""
        data = _object(body, "PipelineVersion")
        self._version(pipeline_id, version_id)
        display = _string(data, "display_name", "displayName").strip()
        if display:
            self.store.update_display_name("pipeline_versions", "pipeline_version_id", version_id, display)
        row = self._version(pipeline_id, version_id)
        return pipeline_version_json(row, self._spec_json(row.spec_digest))

    def _version(self, pipeline_id: str, version_id: str) -> PipelineVersionRow:
        row = self.store.get_version(version_id)
        if row is None or (pipeline_id and row.pipeline_id != pipeline_id):
            raise ApiError.not_found("Pipeline version", version_id)
        if self.config.multi_user:
            self._pipeline(row.pipeline_id)
        return row

    def get_pipeline_version(self, pipeline_id: str, version_id: str) -> str:
        """``GET /pipelines/{id}/versions/{version_id}``."""
        row = self._version(pipeline_id, version_id)
        return pipeline_version_json(row, self._spec_json(row.spec_digest))

    def list_pipeline_versions(self, pipeline_id: str, query: Query) -> str:
        """``GET /pipelines/{id}/versions``; an unknown pipeline is NOT_FOUND (``listPipelineVersions`` reads
        its namespace first)."""
        self._pipeline(pipeline_id)
        plan = _plan(
            PIPELINE_VERSIONS,
            query,
            scope={"pipeline_id": pipeline_id},
        )
        rows, token, total = self.store.list_page(plan, self.clock())
        items = []
        for raw in rows:
            row = PipelineVersionRow._make(raw[:-1])
            items.append(pipeline_version_json(row, self._spec_json(row.spec_digest)))
        return list_json("pipeline_versions", items, total, token)

    def delete_pipeline_version(self, pipeline_id: str, version_id: str) -> str:
        """``DELETE /pipelines/{id}/versions/{version_id}``."""
        self._version(pipeline_id, version_id)
        self.store.delete_version(version_id)
        return EMPTY

    # -- pipeline sources shared by runs and recurring runs ---------------------------------------

    def _source(self, data: Mapping[str, Any]) -> tuple[str, str, str, bool]:
        """(pipeline_id, pipeline_version_id, spec digest, embed spec?) of a run or recurring run body."""
        raw_spec = data.get("pipeline_spec", data.get("pipelineSpec"))
        reference = _mapping(
            data, "pipeline_version_reference", "pipelineVersionReference", message="PipelineVersionReference"
        )
        if raw_spec is not None and reference:
            raise ApiError.invalid("Specify either pipeline_spec or pipeline_version_reference, not both")
        if raw_spec is not None:
            spec = spec_from_object(raw_spec)
            self.store.put_spec(spec)
            return "", "", spec.digest, True
        legacy_version = _string(data, "pipeline_version_id", "pipelineVersionId")
        reference = reference or {}
        pipeline_id = _string(reference, "pipeline_id", "pipelineId", what="pipeline_version_reference.pipeline_id")
        version_id = (
            _string(
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
        config = _mapping(data, "runtime_config", "runtimeConfig", message="RuntimeConfig") or {}
        parameters = config.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise ApiError.invalid("runtime_config.parameters must be a JSON object")
        result: dict[str, Any] = {}
        if parameters:
            result["parameters"] = parameters
        root = _string(config, "pipeline_root", "pipelineRoot", what="runtime_config.pipeline_root")
        if root:
            result["pipeline_root"] = root
        return result

    def _experiment_for(self, data: Mapping[str, Any]) -> ExperimentRow:
        experiment_id = _string(data, "experiment_id", "experimentId")
        if not experiment_id and self.config.multi_user:
            # ResourceManager.GetValidExperimentNamespacePair
            raise ApiError.invalid("Experiment id can not be empty in multi-user mode")
        if not experiment_id:
            experiment_id = self.ensure_default_experiment()
        return self._experiment(experiment_id)

    # -- runs ------------------------------------------------------------------------------------

    def create_run(self, body: bytes, query: Query | None = None) -> str:
        """``POST /runs``."""
        data = _object(body, "Run")
        if query and query.get("experiment_id") and not data.get("experiment_id"):
            data["experiment_id"] = query["experiment_id"]
        name = _string(data, "display_name", "displayName").strip()
        if not name:
            raise ApiError.invalid("Failed to create a run: display_name is required")
        runtime_config = self._runtime_config(data)
        experiment = self._experiment_for(data)
        pipeline_id, version_id, digest, embed = self._source(data)
        row = self._new_run(
            name=name,
            description=_string(data, "description"),
            experiment=experiment,
            pipeline_id=pipeline_id,
            version_id=version_id,
            digest=digest,
            embed=embed,
            runtime_config=runtime_config,
            service_account=_string(data, "service_account", "serviceAccount") or DEFAULT_SERVICE_ACCOUNT,
            recurring_run_id="",
            now=self.clock(),
            scheduled_at=None,
        )
        return run_json(
            row, row.created_at, self._spec_json(digest) if embed else None, whole_seconds=self._whole_seconds
        )

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
        run_id = _new_id()
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
        self.store.insert_run(row)
        return row

    def _run(self, run_id: str) -> RunRow:
        row = self.store.get_run(run_id)
        if row is None:
            raise ApiError.not_found("Run", run_id)
        self._authorize(row.namespace)
        return row

    def get_run(self, run_id: str) -> str:
        """``GET /runs/{id}``, with task details."""
        if self.config.multi_user:
            self._run(run_id)
        light = self.store.get_run_cache_columns(run_id)
        if light is None:
            raise ApiError.not_found("Run", run_id)
        _, static_json, storage_state, seg_start, cancel_at, digest, embed = light
        tail = self.run_cache.get(run_id, True, seg_start, cancel_at)
        if tail is not None:
            return join_run(static_json, storage_state, tail, self.store.spec(digest)[0] if embed else None)
        row = self._run(run_id)
        spec_json, task_names = self.store.spec(row.spec_digest)
        return run_json(
            row,
            self.clock(),
            spec_json if row.embed_spec else None,
            task_names,
            self.run_cache,
            whole_seconds=self._whole_seconds,
        )

    def list_runs(self, query: Query) -> str:
        """``GET /runs`` (by experiment, namespace, filter, sort, page); an unknown experiment is NOT_FOUND
        (``BaseRunServer.listRuns`` reads its namespace first).

        Each run carries ``run_details.task_details`` as in ``get_run``: ``RunStore.ListRuns`` joins the
        tasks table (``addMetricsResourceReferencesAndTasks``), so pages weigh what real pages weigh.
        """
        plan = _plan(
            RUNS,
            query,
            scope=self._run_scope(query),
        )
        now = self.clock()
        # Read only what the render cache needs; fetch whole rows just for runs not answered from it.
        plan.columns = RUN_CACHE_COLUMNS
        rows, token, total = self.store.list_page(plan, now)
        spec = self.store.spec
        cache = self.run_cache
        whole = self._whole_seconds
        items: list[str] = []
        missing: dict[int, str] = {}
        for index, (run_id, static_json, storage_state, seg_start, cancel_at, digest, embed, _) in enumerate(rows):
            tail = cache.get(run_id, True, seg_start, cancel_at)
            if tail is None:
                missing[index] = run_id
                items.append("")
            else:
                items.append(join_run(static_json, storage_state, tail, spec(digest)[0] if embed else None))
        if missing:
            full = self.store.get_runs(list(missing.values()))
            for index, run_id in missing.items():
                row = full[run_id]
                spec_json, task_names = spec(row.spec_digest)
                items[index] = run_json(
                    row, now, spec_json if row.embed_spec else None, task_names, cache, whole_seconds=whole
                )
        return list_json("runs", items, total, token)

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

    # -- recurring runs --------------------------------------------------------------------------

    def create_recurring_run(self, body: bytes) -> str:
        """``POST /recurringruns``."""
        data = _object(body, "RecurringRun")
        name = _string(data, "display_name", "displayName").strip()
        if not name:
            raise ApiError.invalid("Failed to create a recurring run: display_name is required")
        experiment = self._experiment_for(data)
        pipeline_id, version_id, digest, embed = self._source(data)
        trigger, schedule = _trigger(_mapping(data, "trigger", message="Trigger") or {})
        max_concurrency = _integer(data, "max_concurrency", "maxConcurrency", default=1)
        if not 1 <= max_concurrency <= 10:
            raise ApiError.invalid(f"max_concurrency must be between 1 and 10, got {max_concurrency}")
        mode = _string(data, "mode").upper()
        if mode not in ("", "MODE_UNSPECIFIED", "ENABLE", "DISABLE"):
            raise ApiError.invalid(f"mode must be ENABLE or DISABLE, got {mode!r}")
        no_catchup = data.get("no_catchup", data.get("noCatchup", False))
        if not isinstance(no_catchup, bool):
            raise ApiError.invalid("no_catchup must be a boolean")
        now = self._whole_now()
        enabled = mode != "DISABLE"
        row = RecurringRunRow(
            recurring_run_id=_new_id(),
            display_name=name,
            description=_string(data, "description"),
            experiment_id=experiment.experiment_id,
            namespace=experiment.namespace,
            pipeline_id=pipeline_id,
            pipeline_version_id=version_id,
            spec_digest=digest,
            embed_spec=int(embed),
            runtime_config_json=json.dumps(self._runtime_config(data)),
            service_account=_string(data, "service_account", "serviceAccount") or DEFAULT_SERVICE_ACCOUNT,
            max_concurrency=max_concurrency,
            trigger_json=json.dumps(trigger),
            enabled=int(enabled),
            created_at=now,
            updated_at=now,
            no_catchup=int(no_catchup),
            next_fire_at=schedule.first_fire(now) if enabled else None,
            fire_count=0,
        )
        self.store.insert_recurring(row)
        self.on_schedule_change()
        return recurring_run_json(row, self._spec_json(digest) if embed else None)

    def _recurring(self, recurring_run_id: str) -> RecurringRunRow:
        row = self.store.get_recurring(recurring_run_id)
        if row is None:
            raise ApiError.not_found("Recurring run", recurring_run_id)
        self._authorize(row.namespace)
        return row

    def get_recurring_run(self, recurring_run_id: str) -> str:
        """``GET /recurringruns/{id}``."""
        row = self._recurring(recurring_run_id)
        return recurring_run_json(row, self._spec_json(row.spec_digest) if row.embed_spec else None)

    def list_recurring_runs(self, query: Query) -> str:
        """``GET /recurringruns``."""
        plan = _plan(
            RECURRING_RUNS,
            query,
            scope=self._run_scope(query),
        )
        rows, token, total = self.store.list_page(plan, self.clock())
        items = []
        for raw in rows:
            row = RecurringRunRow._make(raw[:-1])
            items.append(recurring_run_json(row, self._spec_json(row.spec_digest) if row.embed_spec else None))
        # The proto sets json_name: this one list field is camelCase on the wire.
        return list_json("recurringRuns", items, total, token)

    def delete_recurring_run(self, recurring_run_id: str) -> str:
        """``DELETE /recurringruns/{id}``."""
        self._recurring(recurring_run_id)
        if not self.store.delete_recurring(recurring_run_id):
            raise ApiError.not_found("Recurring run", recurring_run_id)
        self.on_schedule_change()
        return EMPTY

    def set_recurring_enabled(self, recurring_run_id: str, enabled: bool) -> str:
        """``POST /recurringruns/{id}:enable`` and ``:disable``."""
        row = self._recurring(recurring_run_id)
        now = self._whole_now()
        changes: dict[str, Any] = {"enabled": int(enabled), "updated_at": now}
        if enabled and not row.enabled and row.next_fire_at is None:
            _, schedule = _trigger(json.loads(row.trigger_json))
            changes["next_fire_at"] = schedule.first_fire(row.created_at)
        self.store.update_recurring(recurring_run_id, **changes)
        self.on_schedule_change()
        return EMPTY

    def fire_due_recurring_runs(self) -> bool:
        """Create the runs whose time has come; True if some were held back by ``max_concurrency``."""
        now = self.clock()
        held_back = False
        for row in self.store.due_recurring(now):
            try:
                held_back |= self._fire(row, now)
            except ApiError as exc:  # e.g. its pipeline version was deleted: stop firing it
                logger.warning("recurring run %s cannot fire and is disabled: %s", row.recurring_run_id, exc.message)
                self.store.update_recurring(row.recurring_run_id, enabled=0, next_fire_at=None, updated_at=now)
        return held_back

    def _fire(self, row: RecurringRunRow, now: float) -> bool:
        _, schedule = _trigger(json.loads(row.trigger_json))
        due = row.next_fire_at
        count = row.fire_count
        held_back = False
        if due is not None and row.no_catchup and due <= now:
            due = schedule.due_without_catchup(due, now)
        experiment = self.store.get_experiment(row.experiment_id)
        if experiment is None:
            raise ApiError.not_found("Experiment", row.experiment_id)
        fired = 0
        while due is not None and due <= now and fired < _MAX_FIRES_PER_TICK:
            if self.store.count_active_runs(row.recurring_run_id, now) >= row.max_concurrency:
                held_back = True
                break
            count += 1
            self._new_run(
                name=f"{row.display_name}-{count}",
                description=row.description,
                experiment=experiment,
                pipeline_id=row.pipeline_id,
                version_id=row.pipeline_version_id,
                digest=row.spec_digest,
                embed=bool(row.embed_spec),
                runtime_config=json.loads(row.runtime_config_json),
                service_account=row.service_account,
                recurring_run_id=row.recurring_run_id,
                now=now,
                scheduled_at=due,
            )
            fired += 1
            due = schedule.next_after(due)
        self.store.update_recurring(row.recurring_run_id, next_fire_at=due, fire_count=count)
        return held_back

    def next_fire_time(self) -> float | None:
        """When the scheduler next has something to do."""
        return self.store.next_fire_time()


class _Schedule:
    """A trigger's timing as the ScheduledWorkflow controller computes it, in whole epoch seconds.

    Periodic: ``PeriodicSchedule.GetNextScheduledEpoch`` and ``GetNextScheduledEpochNoCatchup``
    (``crd/controller/scheduledworkflow/util/periodic_schedule.go``); cron: ``CronSchedule.
    GetNextScheduledTime`` and ``getNextScheduledTimeImp`` (``cron_schedule.go``). Without a previous
    fire, counting starts at ``start_time`` if set, else at the recurring run's creation, so a past
    ``start_time`` backfills every missed fire (catch-up) or fires once now (``no_catchup``), and a
    future one fires first one interval (periodic) or the first cron time after it.
    """

    def __init__(self, cron: CronSchedule | None, interval: float | None, start: float | None, end: float | None):
        self.cron = cron
        self.interval = interval
        self.start = None if start is None else float(math.floor(start))
        self.end = None if end is None else float(math.floor(end))

    def _bounded(self, moment: float | None) -> float | None:
        if moment is None or (self.end is not None and moment > self.end):
            return None
        return moment

    def first_fire(self, created_at: float) -> float | None:
        """The first fire time (with catch-up) of a recurring run created at ``created_at``."""
        effective = self.start if self.start is not None else float(math.floor(created_at))
        return self.next_after(effective)

    def next_after(self, last: float) -> float | None:
        """The fire time following the one scheduled at ``last`` (with catch-up)."""
        if self.interval is not None:
            if self.start is not None and self.start > last:
                return self.start
            return self._bounded(math.floor(last) + self.interval)
        assert self.cron is not None
        base = max(last, self.start) if self.start is not None else last
        return self._bounded(self.cron.next_after(base))

    def due_without_catchup(self, due: float, now: float) -> float:
        """``no_catchup``: the one fire to make instead of a backlog that starts at ``due``."""
        whole_now = float(math.floor(now))
        if self.interval is not None:
            # GetNextScheduledEpochNoCatchup: behind by a whole interval → fire now (or at end_time).
            if whole_now >= due + self.interval:
                return self.end if self.end is not None and self.end < whole_now else whole_now
            return due
        # getNextScheduledTimeImp with catchup=false: the last cron time not after now (nor end_time).
        for _ in range(_MAX_CATCHUP_SKIP):
            following = self.next_after(due)
            if following is None or following > whole_now:
                return due
            due = following
        return due


def _trigger(data: Mapping[str, Any]) -> tuple[dict[str, Any], _Schedule]:
    """Validate a ``trigger`` object; return it as echoed (int64 as strings) and its schedule."""
    cron = _mapping(data, "cron_schedule", "cronSchedule", message="CronSchedule")
    periodic = _mapping(data, "periodic_schedule", "periodicSchedule", message="PeriodicSchedule")
    if (cron is None) == (periodic is None):
        raise ApiError.invalid("trigger needs exactly one of cron_schedule or periodic_schedule")
    source = cron if cron is not None else periodic
    assert source is not None
    start = _timestamp(source, "start_time", "startTime")
    end = _timestamp(source, "end_time", "endTime")
    echo: dict[str, Any] = {}
    if start is not None:
        echo["start_time"] = format_ts(math.floor(start))
    if end is not None:
        echo["end_time"] = format_ts(math.floor(end))
    if cron is not None:
        spec = _string(cron, "cron", what="trigger.cron_schedule.cron")
        try:
            parsed = CronSchedule.parse(spec)
        except ValueError as exc:
            raise ApiError.invalid(f"Invalid cron expression {spec!r}: {exc}") from None
        return {"cron_schedule": {"cron": spec, **echo}}, _Schedule(parsed, None, start, end)
    assert periodic is not None
    interval = _integer(periodic, "interval_second", "intervalSecond", default=0)
    if interval <= 0:
        raise ApiError.invalid("trigger.periodic_schedule.interval_second must be a positive number of seconds")
    return {"periodic_schedule": {"interval_second": str(interval), **echo}}, _Schedule(
        None, float(interval), start, end
    )


def _stem(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".zip", ".yaml", ".yml", ".json"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
