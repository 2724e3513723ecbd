"""Recurring runs: create, get, list, delete, enable and disable, and firing the due ones as the
ScheduledWorkflow controller does (periodic and cron triggers, catch-up or not).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from perf_tests.server.cron import CronSchedule
from perf_tests.server.errors import ApiError
from perf_tests.server.service.base import (
    DEFAULT_SERVICE_ACCOUNT,
    EMPTY,
    Query,
    body_object,
    integer_field,
    list_plan,
    mapping_field,
    new_id,
    string_field,
    timestamp_field,
)
from perf_tests.server.service.runs import RunsService
from perf_tests.server.store import (
    RECURRING_RUNS,
    RecurringRunRow,
)
from perf_tests.server.timestamps import format_ts
from perf_tests.server.views import (
    list_json,
    recurring_run_json,
)

__all__ = ["RecurringRunsService"]

logger = logging.getLogger(__name__)

_MAX_FIRES_PER_TICK = 50
_MAX_CATCHUP_SKIP = 100_000


class RecurringRunsService(RunsService):
    """The recurring run endpoints and their firing."""

    def create_recurring_run(self, body: bytes) -> str:
        """``POST /recurringruns``."""
        data = body_object(body, "RecurringRun")
        name = string_field(data, "display_name", "displayName").strip()
        if not name:
            raise ApiError.invalid("Failed to create a recurring run: display_name is required")
        experiment = self._experiment_for(data)
        pipeline_id, version_id, digest, embed = self._source(data)
        trigger, schedule = _trigger(mapping_field(data, "trigger", message="Trigger") or {})
        max_concurrency = integer_field(data, "max_concurrency", "maxConcurrency", default=1)
        if not 1 <= max_concurrency <= 10:
            raise ApiError.invalid(f"max_concurrency must be between 1 and 10, got {max_concurrency}")
        mode = string_field(data, "mode").upper()
        if mode not in ("", "MODE_UNSPECIFIED", "ENABLE", "DISABLE"):
            raise ApiError.invalid(f"mode must be ENABLE or DISABLE, got {mode!r}")
        no_catchup = data.get("no_catchup", data.get("noCatchup", False))
        if not isinstance(no_catchup, bool):
            raise ApiError.invalid("no_catchup must be a boolean")
        now = self._whole_now()
        enabled = mode != "DISABLE"
        row = RecurringRunRow(
            recurring_run_id=new_id(),
            display_name=name,
            description=string_field(data, "description"),
            experiment_id=experiment.experiment_id,
            namespace=experiment.namespace,
            pipeline_id=pipeline_id,
            pipeline_version_id=version_id,
            spec_digest=digest,
            embed_spec=int(embed),
            runtime_config_json=json.dumps(self._runtime_config(data)),
            service_account=string_field(data, "service_account", "serviceAccount") or DEFAULT_SERVICE_ACCOUNT,
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
        plan = list_plan(
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
    cron = mapping_field(data, "cron_schedule", "cronSchedule", message="CronSchedule")
    periodic = mapping_field(data, "periodic_schedule", "periodicSchedule", message="PeriodicSchedule")
    if (cron is None) == (periodic is None):
        raise ApiError.invalid("trigger needs exactly one of cron_schedule or periodic_schedule")
    source = cron if cron is not None else periodic
    assert source is not None
    start = timestamp_field(source, "start_time", "startTime")
    end = timestamp_field(source, "end_time", "endTime")
    echo: dict[str, Any] = {}
    if start is not None:
        echo["start_time"] = format_ts(math.floor(start))
    if end is not None:
        echo["end_time"] = format_ts(math.floor(end))
    if cron is not None:
        spec = string_field(cron, "cron", what="trigger.cron_schedule.cron")
        try:
            parsed = CronSchedule.parse(spec)
        except ValueError as exc:
            raise ApiError.invalid(f"Invalid cron expression {spec!r}: {exc}") from None
        return {"cron_schedule": {"cron": spec, **echo}}, _Schedule(parsed, None, start, end)
    assert periodic is not None
    interval = integer_field(periodic, "interval_second", "intervalSecond", default=0)
    if interval <= 0:
        raise ApiError.invalid("trigger.periodic_schedule.interval_second must be a positive number of seconds")
    return {"periodic_schedule": {"interval_second": str(interval), **echo}}, _Schedule(
        None, float(interval), start, end
    )
