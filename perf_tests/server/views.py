"""JSON bodies in the shapes ``kfp_server_api`` parses: snake_case fields, RFC 3339 timestamps.

As the real API server (proto JSON without unpopulated fields) does, empty strings, empty lists and
zero ``total_size`` are left out, int64 values are strings, and an unset timestamp is the epoch. The
embedded ``pipeline_spec`` is spliced in as stored text (camelCase proto JSON), not re-encoded, which
keeps ``get_run`` and ``list_runs`` cheap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from perf_tests.server.answers import RunAnswer
from perf_tests.server.lifecycle import FAILED, FINAL_STATES, Timeline
from perf_tests.server.store import ExperimentRow, PipelineRow, PipelineVersionRow, RecurringRunRow, RunRow
from perf_tests.server.timestamps import EPOCH, format_ts, format_ts_whole

__all__ = [
    "dumps",
    "experiment_json",
    "list_json",
    "pipeline_json",
    "pipeline_version_json",
    "recurring_run_json",
    "run_answer",
    "run_list_json",
    "run_static_json",
]

_RUN_ERROR = json.dumps({"code": 2, "message": "Run failed: a task failed (simulated by the embedded KFP simulator)"})


def dumps(value: Any) -> str:
    """Compact JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _without_empty(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in ("", None, [], {})}


def experiment_json(row: ExperimentRow) -> str:
    """An ``V2beta1Experiment``."""
    return dumps(
        _without_empty(
            {
                "experiment_id": row.experiment_id,
                "display_name": row.display_name,
                "description": row.description,
                "created_at": format_ts(row.created_at),
                "namespace": row.namespace,
                "storage_state": row.storage_state,
                "last_run_created_at": format_ts(row.last_run_created_at),
            }
        )
    )


def pipeline_json(row: PipelineRow) -> str:
    """A ``V2beta1Pipeline``."""
    return dumps(
        _without_empty(
            {
                "pipeline_id": row.pipeline_id,
                "name": row.name,
                "display_name": row.display_name,
                "description": row.description,
                "created_at": format_ts(row.created_at),
                "namespace": row.namespace,
            }
        )
    )


def pipeline_version_json(row: PipelineVersionRow, spec_json: str) -> str:
    """A ``V2beta1PipelineVersion`` with its ``pipeline_spec``."""
    head = dumps(
        _without_empty(
            {
                "pipeline_id": row.pipeline_id,
                "pipeline_version_id": row.pipeline_version_id,
                "name": row.name,
                "display_name": row.display_name,
                "description": row.description,
                "created_at": format_ts(row.created_at),
                "package_url": {"pipeline_url": row.package_url} if row.package_url else None,
                "code_source_url": row.code_source_url,
            }
        )
    )
    return f'{head[:-1]},"pipeline_spec":{spec_json}}}'


def run_static_json(fields: dict[str, Any]) -> str:
    """The immutable part of a run, rendered once at creation (without the outer braces)."""
    return dumps(_without_empty(fields))[1:-1]


def run_answer(
    row: RunRow,
    now: float,
    spec: bytes | None,
    task_names: Sequence[str] | None = None,
    *,
    whole_seconds: bool = True,
) -> tuple[RunAnswer, bool]:
    """A ``V2beta1Run`` as of ``now`` (with ``task_names``, also ``run_details.task_details``) and whether
    the run has ended (its answer no longer changes with time)."""
    tail, final = _run_tail(row, now, task_names, format_ts_whole if whole_seconds else format_ts)
    head = f'{{{row.static_json},"storage_state":"{row.storage_state}"'
    return RunAnswer(head.encode(), spec, tail.encode()), final


def run_list_json(answers: Sequence[RunAnswer], total: int, next_token: str | None) -> bytes:
    """A ``ListRunsResponse`` of rendered runs (``list_json``'s envelope, joined as bytes)."""
    prefix, suffix = _list_envelope("runs", bool(answers), total, next_token)
    parts = [prefix.encode()]
    for index, answer in enumerate(answers):
        if index:
            parts.append(b",")
        parts.extend(answer.parts())
    parts.append(suffix.encode())
    return b"".join(parts)


def _run_tail(
    row: RunRow, now: float, task_names: Sequence[str] | None, fmt: Callable[[float], str]
) -> tuple[str, bool]:
    timeline = row.timeline()
    state = timeline.state(now)
    finished = timeline.finished_at(now)
    history = ",".join(f'{{"update_time":"{fmt(ts)}","state":"{s}"}}' for s, ts in timeline.history(now))
    parts = [
        ',"finished_at":"',
        EPOCH if finished is None else fmt(finished),
        '","state":"',
        state,
        '","state_history":[',
        history,
        "]",
    ]
    if state == FAILED:
        parts += [',"error":', _RUN_ERROR]
    if task_names is not None:
        parts += [',"run_details":', dumps({"task_details": _task_details(row, timeline, task_names, now, fmt)})]
    parts.append("}")
    return "".join(parts), state in FINAL_STATES


def _task_details(
    row: RunRow, timeline: Timeline, names: Sequence[str], now: float, fmt: Callable[[float], str]
) -> list[dict[str, Any]]:
    """``PipelineTaskDetail``s as ``toApiPipelineTaskDetail`` renders stored tasks: whole-second times,
    an int64 ``execution_id`` (a string in JSON), the task's ``state_history`` and its pod as a child task."""
    details = []
    pod_prefix = row.run_id[:8]
    for task in timeline.tasks(names, now):
        ended = task.end is not None and task.end <= now
        history = [{"update_time": fmt(task.start), "state": "RUNNING"}]
        if ended and task.state != "RUNNING":
            assert task.end is not None
            history.append({"update_time": fmt(task.end), "state": task.state})
        entry: dict[str, Any] = {
            "run_id": row.run_id,
            "task_id": f"{pod_prefix}-task-{task.index}",
            "display_name": task.name,
            "create_time": fmt(task.start),
            "start_time": fmt(task.start),
            "end_time": fmt(task.end) if ended and task.end is not None else EPOCH,
            "state": task.state,
            "execution_id": str(task.index + 1),
            "state_history": history,
            "child_tasks": [{"pod_name": f"{pod_prefix}-system-container-impl-{task.index}"}],
        }
        details.append(entry)
    return details


def recurring_run_json(row: RecurringRunRow, spec_json: str | None) -> str:
    """A ``V2beta1RecurringRun``."""
    fields: dict[str, Any] = {
        "recurring_run_id": row.recurring_run_id,
        "display_name": row.display_name,
        "description": row.description,
        "pipeline_version_reference": (
            {"pipeline_id": row.pipeline_id, "pipeline_version_id": row.pipeline_version_id}
            if row.pipeline_version_id
            else None
        ),
        "runtime_config": json.loads(row.runtime_config_json),
        "service_account": row.service_account,
        "max_concurrency": str(row.max_concurrency),
        "trigger": json.loads(row.trigger_json),
        "mode": "ENABLE" if row.enabled else "DISABLE",
        "created_at": format_ts(row.created_at),
        "updated_at": format_ts(row.updated_at),
        "status": "ENABLED" if row.enabled else "DISABLED",
        "no_catchup": bool(row.no_catchup) or None,
        "namespace": row.namespace,
        "experiment_id": row.experiment_id,
    }
    body = dumps(_without_empty(fields))
    if spec_json is None:
        return body
    return f'{body[:-1]},"pipeline_spec":{spec_json}}}'


def list_json(field: str, items: Sequence[str], total: int, next_token: str | None) -> str:
    """A ``List...Response``: the items, ``total_size`` and ``next_page_token``, empty ones left out."""
    prefix, suffix = _list_envelope(field, bool(items), total, next_token)
    return f"{prefix}{','.join(items)}{suffix}"


def _list_envelope(field: str, has_items: bool, total: int, next_token: str | None) -> tuple[str, str]:
    """What goes before and after a list's comma-separated items."""
    prefix = f'{{"{field}":[' if has_items else "{"
    suffix = ["]"] if has_items else []
    if total:
        suffix += [',"total_size":' if has_items else '"total_size":', str(total)]
    if next_token:
        suffix += [',"next_page_token":"', next_token, '"']
    suffix.append("}")
    return prefix, "".join(suffix)
