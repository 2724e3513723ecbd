"""Timelines for the HTML report, computed from ``events.jsonl``.

Events are gathered into buckets of a "nice" width (1 s, 2 s, 5 s, ... 1 h) chosen so the run's window
has at most ``max_buckets`` of them: ``op`` lines by their start time, ``agg`` lines by their second,
their HDR histograms merged per bucket. Per operation and bucket: successes and failures
per second, p50/p95/p99 of the successful durations, failures by error type, dropped arrivals and the
p99 of send lateness. Per scenario entry besides: final run states (``attrs.state``), list latency
against table size (``attrs.total_size``) and notes. Times are seconds after ``t0`` (the run start).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from perf_tests.recorder.event_codec import event_from_json, histogram_values, read_event_lines, time_range
from perf_tests.recorder.events import AggregateRecord, Event, OperationEvent, ScenarioMark
from perf_tests.recorder.stats import new_histogram

__all__ = ["NICE_BUCKETS", "OperationTimeline", "ScenarioTimeline", "Timelines", "build_timelines", "percentiles"]

logger = logging.getLogger(__name__)

NICE_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)

Weighted = list[tuple[float, int]]


def percentiles(values: Weighted, wanted: tuple[float, ...]) -> list[float | None]:
    """Percentiles (nearest rank) of weighted values ``(value, count)``; None for each when empty."""
    total = sum(count for _, count in values)
    if not total:
        return [None for _ in wanted]
    ordered = sorted(values)
    result: list[float | None] = []
    for percentile in wanted:
        rank = max(1, math.ceil(percentile / 100.0 * total))
        seen = 0
        chosen = ordered[-1][0]
        for value, count in ordered:
            seen += count
            if seen >= rank:
                chosen = value
                break
        result.append(chosen)
    return result


@dataclass
class _Slot:
    ok: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    values: Weighted = field(default_factory=list)
    lateness: Weighted = field(default_factory=list)
    dropped: int = 0


@dataclass
class OperationTimeline:
    """One operation's buckets: each list has one value per bucket (None where nothing succeeded)."""

    name: str
    ok_rate: list[float]
    failed_rate: list[float]
    p50: list[float | None]
    p95: list[float | None]
    p99: list[float | None]
    errors: dict[str, list[int]]
    dropped: list[int]
    lateness_p99: list[float | None]

    @property
    def buckets_with_data(self) -> int:
        return sum(1 for ok, failed in zip(self.ok_rate, self.failed_rate, strict=True) if ok or failed)


@dataclass
class ScenarioTimeline:
    """One scenario entry's timelines and per-entry extras."""

    name: str
    mode: str
    start: float | None = None
    end: float | None = None
    operations: dict[str, OperationTimeline] = field(default_factory=dict)
    states: dict[str, Counter[str]] = field(default_factory=dict)
    sizes: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    notes: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Timelines:
    """All entries' timelines on the run's shared clock: bucket ``i`` starts ``t[i]`` seconds after ``t0``."""

    t0: float
    bucket_s: int
    t: list[float]
    scenarios: dict[str, ScenarioTimeline]


def _bucket_width(span: float, max_buckets: int) -> int:
    for width in NICE_BUCKETS:
        if span / width <= max_buckets:
            return width
    return NICE_BUCKETS[-1]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _thin(points: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    if len(points) <= limit:
        return points
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit)]


class _Accumulators:
    """HDR histograms of ``agg`` records merged per (scenario, operation, value, bucket) with hdrh's C
    addition; a bucket is turned into weighted values once a record two buckets later arrives (the
    file is in time order give or take a flush), so only a few histograms are alive at a time."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str, str], dict[int, HdrHistogram]] = {}

    def add(self, key: tuple[str, str, str], bucket: int, histogram: HdrHistogram, target: list[_Slot]) -> None:
        buckets = self._open.setdefault(key, {})
        merged = buckets.get(bucket)
        if merged is None:
            merged = buckets[bucket] = new_histogram()
        try:
            merged.add(histogram)
        except Exception:  # hdrh raises several kinds for a histogram of another range; a report goes on
            logger.warning("an aggregate record holds a histogram that cannot be merged; it is left out")
            return
        for old in [b for b in buckets if b <= bucket - 2]:
            self._finish(key, old, buckets.pop(old), target)

    def finish_all(self, slots: dict[tuple[str, str], list[_Slot]]) -> None:
        for key, buckets in self._open.items():
            for bucket, histogram in buckets.items():
                self._finish(key, bucket, histogram, slots[(key[0], key[1])])
        self._open.clear()

    @staticmethod
    def _finish(key: tuple[str, str, str], bucket: int, histogram: HdrHistogram, target: list[_Slot]) -> None:
        values = histogram_values(histogram)
        if key[2] == "lateness":
            target[bucket].lateness.extend(values)
        else:
            target[bucket].values.extend(values)


def build_timelines(
    events: Path,
    t0: float | None = None,
    t_end: float | None = None,
    max_buckets: int = 240,
    max_points: int = 2000,
) -> Timelines:
    """Read ``events`` and bucket it (see the module docstring); ``t0``/``t_end`` (the run's window) spare
    a first pass over the file to find it."""
    if t0 is None or t_end is None:
        first, last = time_range(events)
        t0 = t0 if t0 is not None else first
        t_end = t_end if t_end is not None else last
    origin = float(math.floor(t0 or 0.0))
    span = max(1.0, (t_end or origin) - origin)
    width = _bucket_width(span, max_buckets)
    count = max(1, math.ceil(span / width))
    stride = max(1, math.ceil(span / max_points))  # seconds between list-size samples of aggregates
    slots: dict[tuple[str, str], list[_Slot]] = {}
    scenarios: dict[str, ScenarioTimeline] = {}
    raw_sizes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    accumulators = _Accumulators()

    def scenario(event: Event) -> ScenarioTimeline:
        item = scenarios.get(event.scenario)
        if item is None:
            item = scenarios[event.scenario] = ScenarioTimeline(event.scenario, event.mode)
        return item

    for line in read_event_lines(events):
        event = event_from_json(line)
        if isinstance(event, ScenarioMark):
            entry, t = scenario(event), event.time
            if event.phase == "started":
                entry.start = t - origin
            elif event.phase == "finished":
                entry.end = t - origin
            elif event.phase == "note" and event.message:
                entry.notes.append((t - origin, event.message))
            continue
        if isinstance(event, OperationEvent):
            t, attrs = event.start, event.attrs or {}
        elif isinstance(event, AggregateRecord):
            t, attrs = float(event.second), event.attrs
        else:
            continue  # statistics computed elsewhere (metrics) have no timeline
        entry, op = scenario(event), event.operation
        buckets = slots.get((entry.name, op))
        if buckets is None:
            buckets = slots[(entry.name, op)] = [_Slot() for _ in range(count)]
        index = min(count - 1, max(0, int((t - origin) // width)))
        slot = buckets[index]
        size = _number(attrs.get("total_size"))
        if isinstance(event, OperationEvent):
            ms = event.duration * 1000.0
            if event.ok:
                slot.ok += 1
                slot.values.append((ms, 1))
                if size is not None:
                    raw_sizes.setdefault((entry.name, op), []).append((size, ms))
            else:
                slot.failed += 1
                slot.errors[event.error_type or "error"] += 1
            lateness = _number(attrs.get("lateness"))
            if lateness is not None:
                slot.lateness.append((lateness * 1000.0, 1))
            state = attrs.get("state")
            if isinstance(state, str) and state:
                entry.states.setdefault(op, Counter())[state] += 1
            continue
        slot.ok += event.ok
        for error_type, errors in event.errors.items():
            slot.failed += errors
            slot.errors[error_type] += errors
        slot.dropped += event.counters.get("dropped", 0)
        if event.histogram.get_total_count():
            accumulators.add((entry.name, op, "duration"), index, event.histogram, buckets)
            if size is not None and int(t - origin) % stride == 0:
                median = percentiles(histogram_values(event.histogram), (50.0,))[0]
                if median is not None:
                    raw_sizes.setdefault((entry.name, op), []).append((size, median))
        late = event.values.get("lateness")
        if late is not None and late.get_total_count():
            accumulators.add((entry.name, op, "lateness"), index, late, buckets)
    accumulators.finish_all(slots)
    for (name, op), buckets in slots.items():
        scenarios[name].operations[op] = _operation_timeline(op, buckets, width)
    for (name, op), points in raw_sizes.items():
        scenarios[name].sizes[op] = _thin(points, max_points)
    return Timelines(origin, width, [i * width for i in range(count)], scenarios)


def _operation_timeline(name: str, buckets: list[_Slot], width: int) -> OperationTimeline:
    p50, p95, p99, late = [], [], [], []
    error_types = sorted({error for bucket in buckets for error in bucket.errors})
    for bucket in buckets:
        a, b, c = percentiles(bucket.values, (50.0, 95.0, 99.0))
        p50.append(a)
        p95.append(b)
        p99.append(c)
        late.append(percentiles(bucket.lateness, (99.0,))[0])
    return OperationTimeline(
        name=name,
        ok_rate=[bucket.ok / width for bucket in buckets],
        failed_rate=[bucket.failed / width for bucket in buckets],
        p50=p50,
        p95=p95,
        p99=p99,
        errors={error: [bucket.errors.get(error, 0) for bucket in buckets] for error in error_types},
        dropped=[bucket.dropped for bucket in buckets],
        lateness_p99=late,
    )
