"""A recorder's state as a model: what a shard sends back and what ``merge`` adds up exactly.

Each operation keeps its counts, errors by type, counters (e.g. ``dropped``), its HDR histograms
(HdrHistogram's base64 encoding, lossless) and its per-second timeline; each entry its marks (start,
finish, the load window ``load_started``/``load_finished`` an LLM_LOAD entry's rates are per second of,
status, notes, attrs). Merging adds counts and histograms, so percentiles of the merged run are
those of one recorder that saw every attempt, within the histogram's 0.1% precision.
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram
from pydantic import BaseModel, ConfigDict, Field

from perf_tests.recorder.recorder import Recorder, ScenarioRecord
from perf_tests.recorder.stats import OperationStats, SecondCounts, new_histogram

__all__ = ["EntrySnapshot", "OperationSnapshot", "RecorderSnapshot", "merge_snapshots", "restore", "snapshot"]

# Worst first: the merged entry has the worst status of its shards.
_STATUS_ORDER = ("error", "hung", "interrupted", "not_run")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class OperationSnapshot(_Model):
    """One operation of one entry (durations in the histograms are microseconds)."""

    ok: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    errors: dict[str, int] = Field(default_factory=dict)
    histogram: str | None = Field(default=None, description="HdrHistogram base64 of successful durations.")
    values: dict[str, str] = Field(default_factory=dict, description="Secondary histograms (lateness, ...).")
    counters: dict[str, int] = Field(default_factory=dict)
    timeline: dict[int, tuple[int, int]] = Field(default_factory=dict, description="second -> (ok, failed)")
    first_start: float | None = None
    last_end: float | None = None
    latest: dict[str, Any] = Field(default_factory=dict)


class EntrySnapshot(_Model):
    """One scenario entry: its marks and operations."""

    name: str
    mode: str = ""
    started: float | None = None
    finished: float | None = None
    load_started: float | None = Field(default=None, description="The load itself (a harness's run), when the "
                                       "entry marks it: the window its rates are per second of.")
    load_finished: float | None = None
    status: str | None = None
    message: str | None = None
    notes: list[str] = Field(default_factory=list)
    attrs: dict[str, Any] = Field(default_factory=dict)
    operations: dict[str, OperationSnapshot] = Field(default_factory=dict)
    external: dict[str, dict[str, Any]] = Field(default_factory=dict)


class RecorderSnapshot(_Model):
    """Every entry a recorder knows."""

    entries: list[EntrySnapshot] = Field(default_factory=list)


def _encode(histogram: HdrHistogram) -> str | None:
    return histogram.encode().decode("ascii") if histogram.get_total_count() else None


def _decode(text: str | None) -> HdrHistogram:
    return HdrHistogram.decode(text) if text else new_histogram()


def snapshot(recorder: Recorder) -> RecorderSnapshot:
    """The recorder's state, encoded."""
    entries = []
    for record in recorder.scenarios.values():
        operations = {
            name: OperationSnapshot(
                ok=stats.ok, failed=stats.failed, errors=dict(stats.errors), histogram=_encode(stats.histogram),
                values={key: encoded for key, hist in stats.values.items() if (encoded := _encode(hist))},
                counters=dict(stats.counters),
                timeline={second: (slot.ok, slot.failed) for second, slot in stats.timeline.items()},
                first_start=stats.first_start, last_end=stats.last_end, latest=_jsonable(stats.latest),
            )
            for name, stats in record.operations.items()
        }
        entries.append(EntrySnapshot(
            name=record.name, mode=record.mode, started=record.started, finished=record.finished,
            load_started=record.load_started, load_finished=record.load_finished,
            status=record.status, message=record.message, notes=list(record.notes), attrs=_jsonable(record.attrs),
            operations=operations, external={key: _jsonable(value) for key, value in record.external.items()},
        ))
    return RecorderSnapshot(entries=entries)


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    """Attributes as JSON would carry them (what events.jsonl holds, too)."""
    import json

    from perf_tests.recorder.event_codec import finite_json

    result: dict[str, Any] = json.loads(json.dumps(finite_json(value), default=str))
    return result


def _add_operation(stats: OperationStats, part: OperationSnapshot) -> None:
    stats.ok += part.ok
    stats.failed += part.failed
    stats.errors.update(part.errors)
    if part.histogram:
        stats.histogram.add(_decode(part.histogram))
    for name, encoded in part.values.items():
        target = stats.values.get(name)
        if target is None:
            target = stats.values[name] = new_histogram()
        target.add(_decode(encoded))
    stats.counters.update(part.counters)
    for second, (ok, failed) in part.timeline.items():
        slot = stats.timeline.get(second)
        if slot is None:
            slot = stats.timeline[second] = SecondCounts()
        slot.ok += ok
        slot.failed += failed
    if part.first_start is not None and (stats.first_start is None or part.first_start < stats.first_start):
        stats.first_start = part.first_start
    if part.last_end is not None and (stats.last_end is None or part.last_end > stats.last_end):
        stats.last_end = part.last_end
    stats.latest.update(part.latest)


def _worse(current: str | None, new: str | None) -> bool:
    def rank(status: str | None) -> int:
        return _STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER)
    return rank(new) < rank(current)


def restore(recorder: Recorder, part: RecorderSnapshot, label: str | None = None) -> None:
    """Add a snapshot to ``recorder``; ``label`` (``shard 1/2``) prefixes notes and messages."""
    prefix = f"[{label}] " if label else ""
    for entry in part.entries:
        record: ScenarioRecord = recorder.scenario(entry.name, entry.mode)
        fresh = not record.operations and record.started is None and record.status is None
        if entry.started is not None and (record.started is None or entry.started < record.started):
            record.started = entry.started
        if entry.finished is not None and (record.finished is None or entry.finished > record.finished):
            record.finished = entry.finished
        # The merged load window: the earliest shard's load start to the latest shard's load end.
        if entry.load_started is not None and (record.load_started is None
                                               or entry.load_started < record.load_started):
            record.load_started = entry.load_started
        if entry.load_finished is not None and (record.load_finished is None
                                                or entry.load_finished > record.load_finished):
            record.load_finished = entry.load_finished
        if fresh or _worse(record.status, entry.status):
            record.status = entry.status
            record.message = f"{prefix}{entry.message}" if entry.message else None
        record.notes.extend(f"{prefix}{note}" for note in entry.notes)
        _merge_attrs(record.attrs, entry.attrs, label)
        for name, operation in entry.operations.items():
            _add_operation(record.stats(name), operation)
        for name, stats in entry.external.items():
            record.external.setdefault(name, stats)


_SUMMED_LOAD_KEYS = ("scheduled", "sent", "ok", "failed", "dropped", "dropped_late", "cancelled", "planned",
                     "cut_off", "cut_off_due", "max_in_flight")


def _merge_attrs(target: dict[str, Any], attrs: dict[str, Any], label: str | None) -> None:
    """Attributes of the merged entry: the load engine's counts added up, everything else as the first
    shard had it; each shard's own under ``shards``."""
    load = attrs.get("load")
    for key, value in attrs.items():
        if key == "load" and isinstance(value, dict) and isinstance(target.get("load"), dict):
            merged = target["load"]
            for name in _SUMMED_LOAD_KEYS:
                if isinstance(value.get(name), int) and isinstance(merged.get(name), int):
                    merged[name] += value[name]
            for name in ("elapsed", "send_span"):
                if isinstance(value.get(name), int | float) and isinstance(merged.get(name), int | float):
                    merged[name] = max(merged[name], value[name])
            if merged.get("elapsed"):
                merged["achieved_rate"] = round(merged["sent"] / merged["elapsed"], 3)
            continue
        target.setdefault(key, dict(value) if isinstance(value, dict) else value)
    if label is not None:
        target.setdefault("shards", {})[label] = {"load": load} if load is not None else {}


def merge_snapshots(parts: list[tuple[str | None, RecorderSnapshot]]) -> Recorder:
    """One recorder holding every shard's results (labels as in ``restore``)."""
    recorder = Recorder()
    for label, part in parts:
        restore(recorder, part, label)
    return recorder

