"""The fields of each v2beta1 request message, so unknown JSON fields are rejected as the API server does.

KFP's gateway decodes bodies with protojson and ``DiscardUnknown: false`` (``common.CustomMarshaler``),
so a misspelled field is an INVALID_ARGUMENT error there rather than silently ignored. protojson takes
both the proto name (``display_name``) and the JSON name (``displayName``); both are accepted here.
Field lists follow ``backend/api/v2beta1/*.proto`` (as generated into ``kfp_server_api`` 2.17).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perf_tests.server.errors import ApiError

__all__ = ["check_fields"]


def _both(*names: str) -> frozenset[str]:
    camel = {name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:]) for name in names}
    return frozenset(names) | camel


MESSAGES: dict[str, frozenset[str]] = {
    "Experiment": _both(
        "experiment_id", "display_name", "description", "created_at", "namespace", "storage_state",
        "last_run_created_at",
    ),
    "Pipeline": _both("pipeline_id", "display_name", "name", "description", "created_at", "namespace", "error", "tags"),
    "PipelineVersion": _both(
        "pipeline_id", "pipeline_version_id", "display_name", "name", "description", "created_at", "package_url",
        "code_source_url", "pipeline_spec", "error", "tags",
    ),
    "CreatePipelineAndVersionRequest": _both("pipeline", "pipeline_version"),
    "Run": _both(
        "experiment_id", "run_id", "display_name", "storage_state", "description", "pipeline_version_id",
        "pipeline_spec", "pipeline_version_reference", "runtime_config", "service_account", "created_at",
        "scheduled_at", "finished_at", "state", "error", "run_details", "recurring_run_id", "state_history",
        "plugins_input", "plugins_output",
    ),
    "RecurringRun": _both(
        "recurring_run_id", "display_name", "description", "pipeline_version_id", "pipeline_spec",
        "pipeline_version_reference", "runtime_config", "service_account", "max_concurrency", "trigger", "mode",
        "created_at", "updated_at", "status", "error", "no_catchup", "namespace", "experiment_id", "plugins_input",
    ),
    "RuntimeConfig": _both("parameters", "pipeline_root"),
    "PipelineVersionReference": _both("pipeline_id", "pipeline_version_id"),
    "Trigger": _both("cron_schedule", "periodic_schedule"),
    "CronSchedule": _both("start_time", "end_time", "cron"),
    "PeriodicSchedule": _both("start_time", "end_time", "interval_second"),
    "Url": _both("pipeline_url"),
}  # fmt: skip


_NESTED: dict[str, dict[str, str]] = {
    "CreatePipelineAndVersionRequest": {"pipeline": "Pipeline", "pipeline_version": "PipelineVersion"},
    "PipelineVersion": {"package_url": "Url"},
    "Run": {"runtime_config": "RuntimeConfig", "pipeline_version_reference": "PipelineVersionReference"},
    "RecurringRun": {
        "runtime_config": "RuntimeConfig",
        "pipeline_version_reference": "PipelineVersionReference",
        "trigger": "Trigger",
    },
    "Trigger": {"cron_schedule": "CronSchedule", "periodic_schedule": "PeriodicSchedule"},
}
"""Message-typed fields checked too (free-form ones such as ``pipeline_spec`` and ``parameters`` are not)."""


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


_SNAKE: dict[str, str] = {name: _snake(name) for names in MESSAGES.values() for name in names}
"""Each known field (either spelling) → its proto name, worked out once rather than for every request."""


def check_fields(data: Mapping[str, Any], message: str) -> None:
    """Reject a field ``message`` (or a message-typed field in it) does not have, as decoding does.

    Raises:
        ApiError: INVALID_ARGUMENT naming the first unknown field.
    """
    known = MESSAGES[message]
    nested = _NESTED.get(message, {})
    for key, value in data.items():
        if key not in known:
            raise ApiError.invalid(f'proto: (line 1:2): unknown field "{key}" in v2beta1.{message}')
        child = nested.get(_SNAKE[key]) if nested else None
        if child is not None and isinstance(value, Mapping):
            check_fields(value, child)
