"""The core of the simulated KFP API server shared by every resource: request decoding, namespaces and
authorization, the ``Default`` experiment, stored time, and ``/healthz``.

The resources (``experiments``, ``pipelines``, ``runs``, ``recurring_runs``) each add their endpoints
to ``ServiceBase``; ``perf_tests.server.service.KfpService`` combines them.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from perf_tests.server.config import SimulatorConfig
from perf_tests.server.errors import ApiError, GrpcCode
from perf_tests.server.listing import plan_list
from perf_tests.server.messages import check_fields
from perf_tests.server.store import (
    ExperimentRow,
    Store,
)
from perf_tests.server.timestamps import parse_ts

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_SERVICE_ACCOUNT",
    "EMPTY",
    "Query",
    "ServiceBase",
    "body_object",
    "integer_field",
    "list_plan",
    "mapping_field",
    "new_id",
    "string_field",
    "timestamp_field",
]

EMPTY = "{}"
"""The body of ``google.protobuf.Empty`` answers (delete, archive, terminate, ...)."""

DEFAULT_EXPERIMENT = "Default"
DEFAULT_SERVICE_ACCOUNT = "pipeline-runner"

Query = Mapping[str, str]


def new_id() -> str:
    return str(uuid.uuid4())


def body_object(body: bytes, message: str) -> dict[str, Any]:
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


def string_field(source: Mapping[str, Any], *keys: str, what: str = "") -> str:
    """The first present key of ``keys`` (snake_case and camelCase spellings) as a string, or ``""``."""
    for key in keys:
        value = source.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ApiError.invalid(f"{what or keys[0]} must be a string, got {type(value).__name__}")
        return value
    return ""


def mapping_field(source: Mapping[str, Any], *keys: str, message: str | None = None) -> dict[str, Any] | None:
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


def integer_field(source: Mapping[str, Any], *keys: str, default: int) -> int:
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


def timestamp_field(source: Mapping[str, Any], *keys: str) -> float | None:
    text = string_field(source, *keys)
    if not text:
        return None
    try:
        return parse_ts(text)
    except ValueError:
        raise ApiError.invalid(f"{keys[0]} must be an RFC 3339 timestamp, got {text!r}") from None


def list_plan(listable: Any, query: Query, scope: Mapping[str, Any]) -> Any:
    """A list query's plan from the request's paging, sort and filter parameters."""
    return plan_list(
        listable,
        page_token=query.get("page_token"),
        page_size=query.get("page_size"),
        sort_by=query.get("sort_by"),
        filter_text=query.get("filter"),
        scope=scope,
    )


class ServiceBase:
    """The state and the shared checks of the simulated KFP API server, minus HTTP.

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
        self.current_user: str | None = None
        """The identity of the request being answered (multi-user mode; set by the HTTP layer)."""
        self.ensure_default_experiment()

    # -- shared checks ---------------------------------------------------------------------------

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
                experiment_id=new_id(),
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
