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
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from perf_tests.recorder.event_codec import decode_histogram, histogram_values, read_event_lines
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


_TIME = re.compile(rb'"t":\s*(-?[0-9.eE+-]+)')
_MS = re.compile(rb'"ms":\s*([0-9.eE+-]+)')


def _time_range(events: Path) -> tuple[float | None, float | None]:
    """First and last time in an events file, read cheaply (no JSON parsing)."""
    first: float | None = None
    last: float | None = None
    with events.open("rb") as file:
        for line in file:
            match = _TIME.search(line)
            if not match:
                continue
            try:
                t = float(match.group(1))
                duration = _MS.search(line)
                end = t + (float(duration.group(1)) / 1000.0 if duration else 1.0)
            except ValueError:
                continue
            first = t if first is None or t < first else first
            last = end if last is None or end > last else last
    return first, last


class _Accumulators:
    """HDR histograms of ``agg`` records merged per (scenario, operation, value, bucket) with hdrh's C
    addition; a bucket is turned into weighted values once a record two buckets later arrives (the
    file is in time order give or take a flush), so only a few histograms are alive at a time."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str, str], dict[int, HdrHistogram]] = {}

    def add(self, key: tuple[str, str, str], bucket: int, encoded: str, target: list[_Slot]) -> None:
        buckets = self._open.setdefault(key, {})
        histogram = buckets.get(bucket)
        if histogram is None:
            histogram = buckets[bucket] = new_histogram()
        try:
            histogram.decode_and_add(encoded)
        except Exception:  # hdrh raises several kinds on corrupt input; a bad second must not stop a report
            logger.warning("an aggregate record holds an unreadable histogram; it is left out")
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
        first, last = _time_range(events)
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

    def scenario(line: dict[str, Any]) -> ScenarioTimeline:
        name = str(line.get("scenario", ""))
        item = scenarios.get(name)
        if item is None:
            item = scenarios[name] = ScenarioTimeline(name, str(line.get("mode", "")))
        return item

    for line in read_event_lines(events):
        kind = line.get("type")
        t = _number(line.get("t"))
        if t is None or kind not in ("op", "agg", "scenario"):
            continue
        entry = scenario(line)
        if kind == "scenario":
            phase, message = str(line.get("phase", "")), str(line.get("message") or "")
            if phase == "started":
                entry.start = t - origin
            elif phase == "finished":
                entry.end = t - origin
            elif phase == "note" and message:
                entry.notes.append((t - origin, message))
            continue
        op = str(line.get("op", ""))
        buckets = slots.get((entry.name, op))
        if buckets is None:
            buckets = slots[(entry.name, op)] = [_Slot() for _ in range(count)]
        index = min(count - 1, max(0, int((t - origin) // width)))
        slot = buckets[index]
        raw_attrs = line.get("attrs")
        attrs: dict[str, Any] = raw_attrs if isinstance(raw_attrs, dict) else {}
        size = _number(attrs.get("total_size"))
        if kind == "op":
            ms = _number(line.get("ms")) or 0.0
            if line.get("ok"):
                slot.ok += 1
                slot.values.append((ms, 1))
                if size is not None:
                    raw_sizes.setdefault((entry.name, op), []).append((size, ms))
            else:
                slot.failed += 1
                slot.errors[str(line.get("error_type") or "error")] += 1
            lateness = _number(attrs.get("lateness"))
            if lateness is not None:
                slot.lateness.append((lateness * 1000.0, 1))
            state = attrs.get("state")
            if isinstance(state, str) and state:
                entry.states.setdefault(op, Counter())[state] += 1
            continue
        slot.ok += int(_number(line.get("ok")) or 0)
        for error_type, errors in (line.get("errors") or {}).items():
            slot.failed += int(errors)
            slot.errors[str(error_type)] += int(errors)
        slot.dropped += int(_number((line.get("counters") or {}).get("dropped")) or 0)
        encoded = line.get("hist")
        if isinstance(encoded, str) and encoded:
            accumulators.add((entry.name, op, "duration"), index, encoded, buckets)
            if size is not None and int(t - origin) % stride == 0:
                histogram = decode_histogram(encoded)
                if histogram is not None:
                    median = percentiles(histogram_values(histogram), (50.0,))[0]
                    if median is not None:
                        raw_sizes.setdefault((entry.name, op), []).append((size, median))
        late = (line.get("values") or {}).get("lateness")
        if isinstance(late, str) and late:
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
