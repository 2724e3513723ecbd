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

from perf_tests.server.lifecycle import FAILED, FINAL_STATES, Timeline
from perf_tests.server.store import ExperimentRow, PipelineRow, PipelineVersionRow, RecurringRunRow, RunRow
from perf_tests.server.timestamps import EPOCH, format_ts, format_ts_whole

__all__ = [
    "RunJsonCache",
    "dumps",
    "experiment_json",
    "join_run",
    "list_json",
    "pipeline_json",
    "pipeline_version_json",
    "recurring_run_json",
    "run_json",
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


class RunJsonCache:
    """The rendered lifecycle part of finished runs, so listing finished runs costs a lookup per run.

    A finished run's state, history and finish time change only through retry or terminate, which change
    the attempt start or the cancel time that each entry is checked against, so a stale entry is never
    served. Bounded: the oldest entries go first. The immutable fields and the storage state are not
    cached; they come from the row each time.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._items: dict[tuple[str, bool], tuple[float, float | None, str]] = {}

    def get(self, run_id: str, details: bool, seg_start: float, cancel_at: float | None) -> str | None:
        """The cached tail of a run's JSON, if the run's attempt and cancel time still match."""
        item = self._items.get((run_id, details))
        if item is None or item[0] != seg_start or item[1] != cancel_at:
            return None
        return item[2]

    def put(self, run_id: str, details: bool, seg_start: float, cancel_at: float | None, tail: str) -> None:
        """Remember a finished run's tail."""
        if len(self._items) >= self.capacity:
            del self._items[next(iter(self._items))]
        self._items[(run_id, details)] = (seg_start, cancel_at, tail)

    def clear(self) -> None:
        """Forget everything (after a reset)."""
        self._items.clear()


def run_json(
    row: RunRow,
    now: float,
    spec_json: str | None,
    task_names: Sequence[str] | None = None,
    cache: RunJsonCache | None = None,
    *,
    whole_seconds: bool = True,
) -> str:
    """A ``V2beta1Run`` as of ``now``; with ``task_names``, also ``run_details.task_details``."""
    details = task_names is not None
    tail = cache.get(row.run_id, details, row.seg_start, row.cancel_at) if cache is not None else None
    if tail is None:
        tail, final = _run_tail(row, now, task_names, format_ts_whole if whole_seconds else format_ts)
        if final and cache is not None:
            cache.put(row.run_id, details, row.seg_start, row.cancel_at, tail)
    return join_run(row.static_json, row.storage_state, tail, spec_json)


def join_run(static_json: str, storage_state: str, tail: str, spec_json: str | None) -> str:
    """A run's JSON from its immutable fields, storage state, lifecycle tail and (if embedded) spec."""
    if spec_json is None:
        return f'{{{static_json},"storage_state":"{storage_state}"{tail}'
    return f'{{{static_json},"storage_state":"{storage_state}","pipeline_spec":{spec_json}{tail}'


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
    parts = ["{"]
    if items:
        parts += ['"', field, '":[', ",".join(items), "]"]
    if total:
        parts += [',"total_size":' if items else '"total_size":', str(total)]
    if next_token:
        parts += [',"next_page_token":"', next_token, '"']
    parts.append("}")
    return "".join(parts)
