"""Cheap recording for high-rate request streams: one aggregate record per stream per second.

A ``StreamRecorder`` belongs to one thread (one event loop); it records each attempt into the current
second's histogram and hands the second over to the ``EventHook`` when it closes. Failed attempts are
written as their own events up to ``error_events_per_second``; the rest are counted by type in the
aggregate, so every attempt is accounted for exactly once. With ``every_request`` each attempt becomes
its own ``OperationEvent`` instead. Attributes passed with attempts (e.g. a list call's ``total_size``)
are kept per second, the last value of each name winning.

Recording is on the hot path of the load engine (thousands of calls per second), so a value goes
straight into the histogram's counts array, indexed the way ``HdrHistogram.record_value`` does it
(about six times faster); count, minimum and maximum are set on the histogram when its second is
handed over. ``tests/unit/load/test_stream_recorder.py`` checks that both ways give the same counts.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from hdrh.histogram import HdrHistogram

from perf_tests.recorder.events import AggregateRecord, EventHook, OperationEvent
from perf_tests.recorder.stats import HISTOGRAM_MAX_US, new_histogram

__all__ = ["StreamRecorder"]

_layout = new_histogram()
if _layout.unit_magnitude != 0:  # new_histogram() starts at 1 µs; the index below relies on it
    raise RuntimeError("StreamRecorder expects histograms whose lowest trackable value is 1")
_SUB_BUCKET_MASK: int = _layout.sub_bucket_mask
_HALF_COUNT: int = _layout.sub_bucket_half_count
_HALF_COUNT_MAGNITUDE: int = _layout.sub_bucket_half_count_magnitude
_BUCKET_SHIFT = _HALF_COUNT_MAGNITUDE + 1
del _layout


def _to_us(seconds: float) -> int:
    """Seconds to microseconds, rounded, clamped into the histogram's range."""
    value = int(seconds * 1_000_000.0 + 0.5)
    if value < 1:
        return 1
    if value > HISTOGRAM_MAX_US:
        return HISTOGRAM_MAX_US
    return value


class _Filling:
    """A histogram being filled: counts go straight into its array; the totals are set by ``done``."""

    __slots__ = ("counts", "high", "histogram", "low", "total")

    def __init__(self) -> None:
        self.histogram: HdrHistogram = new_histogram()
        self.counts: Any = self.histogram.counts
        self.total = 0
        self.low = sys.maxsize
        self.high = 0

    def add(self, value: int) -> None:
        """Record ``value`` microseconds (1 <= value <= HISTOGRAM_MAX_US)."""
        bucket = (value | _SUB_BUCKET_MASK).bit_length() - _BUCKET_SHIFT
        self.counts[((bucket + 1) << _HALF_COUNT_MAGNITUDE) + (value >> bucket) - _HALF_COUNT] += 1
        self.total += 1
        if value > self.high:
            self.high = value
        if value < self.low:
            self.low = value

    def done(self) -> HdrHistogram:
        """The histogram with its count, minimum and maximum set."""
        histogram = self.histogram
        if self.total:
            histogram.total_count += self.total
            histogram.min_value = min(histogram.min_value, self.low)
            histogram.max_value = max(histogram.max_value, self.high)
        return histogram


class _Second:
    __slots__ = ("attrs", "counters", "errors", "main", "ok", "values")

    def __init__(self) -> None:
        self.ok = 0
        self.main = _Filling()
        self.errors: dict[str, int] = {}
        self.values: dict[str, _Filling] = {}
        self.counters: dict[str, int] = {}
        self.attrs: dict[str, Any] | None = None


class StreamRecorder:
    """Per-second aggregation of one scenario's request stream (not thread-safe by design)."""

    def __init__(
        self,
        hook: EventHook,
        scenario: str,
        mode: str,
        every_request: bool = False,
        error_events_per_second: int = 50,
    ) -> None:
        self._hook = hook
        self._scenario = scenario
        self._mode = mode
        self._every_request = every_request
        self._error_budget = error_events_per_second
        self._seconds: dict[tuple[str, int], _Second] = {}
        self._error_events: dict[int, int] = {}

    def record(
        self,
        operation: str,
        start: float,
        duration: float,
        ok: bool,
        error_type: str | None = None,
        error: str | None = None,
        values: Mapping[str, float] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Account for one attempt; ``values`` are secondary durations in seconds (e.g. lateness)."""
        second = int(start)
        if self._every_request or (not ok and self._error_events.get(second, 0) < self._error_budget):
            if not ok:
                self._error_events[second] = self._error_events.get(second, 0) + 1
            merged = dict(attrs or {})
            if values:
                merged.update(values)
            self._hook.fire(
                OperationEvent(self._scenario, self._mode, operation, start, duration, ok, error_type, error,
                               merged or None)
            )
            return
        slot = self._seconds.get((operation, second))
        if slot is None:
            slot = self._seconds[(operation, second)] = _Second()
        if ok:
            slot.ok += 1
            slot.main.add(_to_us(duration))
        else:
            key = error_type or "error"
            slot.errors[key] = slot.errors.get(key, 0) + 1
        if values:
            slot_values = slot.values
            for name, value in values.items():
                filling = slot_values.get(name)
                if filling is None:
                    filling = slot_values[name] = _Filling()
                filling.add(_to_us(value))
        if attrs:
            if slot.attrs is None:
                slot.attrs = dict(attrs)
            else:
                slot.attrs.update(attrs)

    def count(self, operation: str, counter: str, at: float, amount: int = 1) -> None:
        """Count something that is not an attempt (e.g. a ``dropped`` arrival) in its second."""
        slot = self._slot(operation, int(at))
        slot.counters[counter] = slot.counters.get(counter, 0) + amount

    def _slot(self, operation: str, second: int) -> _Second:
        key = (operation, second)
        slot = self._seconds.get(key)
        if slot is None:
            slot = self._seconds[key] = _Second()
        return slot

    def flush(self, before: float | None = None) -> None:
        """Emit the aggregates of every second that started before ``before`` (all when None)."""
        limit = None if before is None else int(before)
        for key in sorted(self._seconds):
            operation, second = key
            if limit is not None and second >= limit:
                continue
            slot = self._seconds.pop(key)
            self._hook.fire(
                AggregateRecord(
                    scenario=self._scenario,
                    mode=self._mode,
                    operation=operation,
                    second=second,
                    ok=slot.ok,
                    histogram=slot.main.done(),
                    errors=slot.errors,
                    values={name: filling.done() for name, filling in slot.values.items()},
                    counters=slot.counters,
                    attrs=slot.attrs or {},
                )
            )
        if limit is None:
            self._error_events.clear()
        else:
            for second in [s for s in self._error_events if s < limit]:
                del self._error_events[second]
