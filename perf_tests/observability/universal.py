"""Prometheus series in the llm-d benchmark report v0.2.1 (``results.observability``), where it has fields.

Mapped by query name (the ``vllm`` and ``llm-d`` presets' names): ``running`` -> ``num_requests_running``,
``waiting`` -> ``num_requests_waiting`` (counts), ``kv_cache`` -> ``kv_cache_usage`` (vLLM's fraction as a
percentage) in ``components[0].time_series``; ``desired_replicas`` / ``ready_replicas`` (and
``current_replicas`` as available) -> ``replica_status`` snapshots and ``aggregate_ready_replicas``. Other
queries have no field there; they stay in ``prometheus/<entry>.json`` (``raw_data_path`` points at it).

``attach_observation`` adds that section to an entry's written ``benchmark_report.json``/``.yaml``: what a
one-process LLM_LOAD entry does after Prometheus was queried, and what the merge of a scaled-out run does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perf_tests.observability.models import EntryObservation, QueryResult, Series

__all__ = ["COMPONENT_LABEL", "attach_observation", "observability_section"]

COMPONENT_LABEL = "model-server"
"""The component the series describe (the report has no stack of ours to refer to)."""

_RESOURCE_FIELDS = {"running": ("num_requests_running", "count", 1.0),
                    "waiting": ("num_requests_waiting", "count", 1.0),
                    "kv_cache": ("kv_cache_usage", "percent", 100.0)}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _summed(series: list[Series]) -> dict[float, float]:
    """Timestamp -> the sum over series (the presets' queries are one series; a by-label query is added up)."""
    out: dict[float, float] = {}
    for item in series:
        for t, value in item.values:
            if value is not None:
                out[t] = out.get(t, 0.0) + value
    return out


def observability_section(observation: EntryObservation, raw_data_path: str) -> dict[str, Any] | None:
    """``results.observability`` for the entry's own window, or None when no query has a field there."""
    if observation.status != "ok" or not observation.windows:
        return None
    queries: dict[str, QueryResult] = {q.name: q for q in observation.windows[0].queries if q.status == "ok"}
    time_series: dict[str, Any] = {}
    for name, (field, units, scale) in _RESOURCE_FIELDS.items():
        if name in queries:
            points = sorted(_summed(queries[name].series).items())
            time_series[field] = {"units": units,
                                  "series": [{"ts": _iso(t), "value": v * scale} for t, v in points]}
    section: dict[str, Any] = {}
    if time_series:
        section["components"] = [{"component_label": COMPONENT_LABEL, "time_series": time_series,
                                  "raw_data_path": raw_data_path}]
    replicas = _replica_status(queries)
    if replicas is not None:
        section["replica_status"] = replicas
    return section or None


def _replica_status(queries: dict[str, QueryResult]) -> dict[str, Any] | None:
    if "ready_replicas" not in queries:
        return None
    ready = _summed(queries["ready_replicas"].series)
    desired = _summed(queries["desired_replicas"].series) if "desired_replicas" in queries else {}
    available = _summed(queries["current_replicas"].series) if "current_replicas" in queries else ready
    snapshots = []
    for t in sorted(ready):
        count = max(0, round(ready[t]))
        snapshots.append({"timestamp": _iso(t), "controllers": [{
            "kind": "Deployment", "name": "variant", "ready_replicas": count,
            "desired_replicas": max(0, round(desired.get(t, ready[t]))),
            "available_replicas": max(0, round(available.get(t, ready[t]))),
        }]})
    if not snapshots:
        return None
    values = [max(0, round(v)) for v in ready.values()]
    return {"timestamp": snapshots[-1]["timestamp"], "controllers": snapshots[-1]["controllers"],
            "time_series": snapshots,
            "aggregate_ready_replicas": {"units": "count", "mean": sum(values) / len(values),
                                         "min": min(values), "max": max(values)}}


def attach_observation(observation: EntryObservation, entry_dir: Path, results_dir: Path) -> list[str]:
    """Put the entry's Prometheus series into the universal report in ``entry_dir`` (rewritten), beside what a
    stack recorded there (``pod_startup_times``, ``replica_status``). Returns the schema problems (the report is
    then kept without them); nothing happens without a report or without a series the schema has a field for.
    ``OSError`` / ``ValueError`` when the report cannot be read or written."""
    from perf_tests.llm.results.universal_report import (
        REPORT_FILE_STEM,
        validate_universal_report,
        write_universal_report,
    )
    from perf_tests.observability.collect import observation_path

    path = entry_dir / f"{REPORT_FILE_STEM}.json"
    if not path.is_file():
        return []
    stored = observation_path(results_dir, observation.entry)
    section = observability_section(observation, str(stored.relative_to(results_dir)))
    if section is None:
        return []
    report = json.loads(path.read_text(encoding="utf-8"))
    results = report.setdefault("results", {})
    results["observability"] = {**(results.get("observability") or {}), **section}
    problems = validate_universal_report(report)
    if problems:
        return problems
    write_universal_report(report, entry_dir)
    return []
