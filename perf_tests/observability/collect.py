"""Before the load: check Prometheus and every query; after it: range queries over each entry's windows.

``check_queries`` runs in seconds at start (reachability, then a dry instant query of every expression):
bad PromQL, an unreachable URL or a 401 stops the run before any load. ``observe_entry`` queries each
window (the entry's own, then its stages or copies) on the shared clock, and ``write_observation`` stores
the series in ``prometheus/<entry>.json``; ``observe_entries`` does both for every entry of a run (a
one-process session, and the scale-out merge over the merged windows).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from perf_tests.errors import TargetError
from perf_tests.observability.client import PrometheusClient, PrometheusQueryError
from perf_tests.observability.models import (
    EntryObservation,
    EntryQueries,
    QueryResult,
    Window,
    aggregate,
    parse_matrix,
)

__all__ = ["OBSERVATIONS_FOLDER", "check_queries", "not_configured", "observation_path", "observe_entries",
           "observe_entry", "write_observation"]

logger = logging.getLogger(__name__)

OBSERVATIONS_FOLDER = "prometheus"
"""Folder of the results directory holding ``<entry>.json`` per entry with a prometheus block."""

MAX_POINTS = 11_000
"""Prometheus refuses a range query of more points than this per series; the step is raised to fit."""


def check_queries(client: PrometheusClient, expressions: Mapping[str, Mapping[str, str]]) -> None:
    """Reachability, then one instant query of every expression (entry -> name -> PromQL).

    ``TargetError`` naming the entry and the query for the first problem."""
    client.check()
    for entry, queries in expressions.items():
        for name, expr in queries.items():
            try:
                client.query(expr, name=name)
            except PrometheusQueryError as exc:
                raise PrometheusQueryError(f"entry {entry!r}, prometheus query {name!r}: {exc}") from None


def not_configured(entry: str) -> EntryObservation:
    """The observation of an entry with a prometheus block when PROMETHEUS_URL is unset."""
    return EntryObservation(entry=entry, status="not_configured",
                            message="PROMETHEUS_URL is not set: no Prometheus query was made")


def observe_entry(client: PrometheusClient, entry: str, queries: EntryQueries,
                  windows: Iterable[Window]) -> EntryObservation:
    """Every query over every window; a failure of one query is kept as its result, not raised."""
    done = []
    for window in windows:
        step = max(queries.step, (window.end - window.start) / MAX_POINTS)
        results = []
        for name, expr in queries.expressions.items():
            results.append(_range(client, name, expr, window, step))
        done.append(window.model_copy(update={"queries": results}))
    return EntryObservation(entry=entry, status="ok", url=client.url, step_s=queries.step, windows=done)


def observe_entries(client: PrometheusClient, queries: Mapping[str, EntryQueries],
                    windows: Mapping[str, Sequence[Window]], results_dir: Path,
                    on_write_error: Callable[[str, OSError], None] | None = None) -> dict[str, EntryObservation]:
    """Every entry's queries over its windows (its own first; none: it did not start), each stored in
    ``prometheus/<entry>.json``. A failure is the entry's observation (status ``error``), never raised, so
    it cannot cost the run its summary; a file that cannot be written goes to ``on_write_error``."""
    observations: dict[str, EntryObservation] = {}
    for name, entry_queries in queries.items():
        spans = list(windows.get(name) or [])
        if not spans:
            observations[name] = EntryObservation(entry=name, status="error",
                                                  message="the entry did not start: no window to query")
            continue
        try:
            observation = observe_entry(client, name, entry_queries, spans)
        except Exception as exc:  # a query bug must not cost the run its summary and verdicts
            logger.exception("%s: the Prometheus queries failed", name)
            observations[name] = EntryObservation(entry=name, status="error",
                                                  message=f"the Prometheus queries failed: {exc}")
            continue
        observations[name] = observation
        try:
            write_observation(observation, results_dir)
        except OSError as exc:
            if on_write_error is None:
                raise
            on_write_error(f"{OBSERVATIONS_FOLDER}/{_file_name(name)}.json", exc)
    return observations


def _range(client: PrometheusClient, name: str, expr: str, window: Window, step: float) -> QueryResult:
    try:
        series = parse_matrix(client.query_range(expr, window.start, window.end, step, name=name))
    except TargetError as exc:
        logger.warning("prometheus query %s over %s failed: %s", name, window.name, exc)
        return QueryResult(name=name, expr=expr, status="error", message=str(exc))
    summary = aggregate(series)
    if summary is None:
        return QueryResult(name=name, expr=expr, status="no_data", series=series,
                           message="no data: the query returned no sample in this window")
    return QueryResult(name=name, expr=expr, status="ok", aggregate=summary, series=series)


def observation_path(results_dir: Path, entry: str) -> Path:
    """``<results_dir>/prometheus/<entry name sanitized>.json``."""
    return results_dir / OBSERVATIONS_FOLDER / f"{_file_name(entry)}.json"


def write_observation(observation: EntryObservation, results_dir: Path) -> Path:
    """``prometheus/<entry>.json`` with every series."""
    path = observation_path(results_dir, observation.entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(observation.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8")
    return path


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "entry"
