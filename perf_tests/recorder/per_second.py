"""A per-second pre-aggregator for high-rate request streams: one aggregate record per stream and second.

A ``PerSecondAggregator`` belongs to one thread (one event loop); it records each attempt into the current
second's histogram and hands the second over to the ``EventHook`` when it closes. Failed attempts are
written as their own events up to ``error_events_per_second``; the rest are counted by type in the
aggregate, so every attempt is accounted for exactly once. With ``every_request`` each attempt becomes
its own ``OperationEvent`` instead. Attributes passed with attempts (e.g. a list call's ``total_size``)
are kept per second, the last value of each name winning.

Recording is on the hot path of the load engine (thousands of calls per second), so a value goes
straight into the histogram's counts array, indexed the way ``HdrHistogram.record_value`` does it
(about six times faster); count, minimum and maximum are set on the histogram when its second is
handed over. Each histogram is a 224 KiB array: allocating three per operation and second and freeing
them after the hand-over makes the C allocator hold on to tens of megabytes, so a histogram that no
listener kept (the recorder merges and the events file encodes them, neither keeps them) is cleared
and reused. ``tests/unit/load/test_load_recording.py`` checks both against ``HdrHistogram`` itself.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Mapping
from typing import Any

from hdrh.histogram import HdrHistogram

from perf_tests.recorder.events import AggregateRecord, EventHook, OperationEvent
from perf_tests.recorder.stats import HISTOGRAM_MAX_US, new_histogram

__all__ = ["PerSecondAggregator"]

_layout = new_histogram()
if _layout.unit_magnitude != 0:  # new_histogram() starts at 1 µs; the index below relies on it
    raise RuntimeError("PerSecondAggregator expects histograms whose lowest trackable value is 1")
_SUB_BUCKET_MASK: int = _layout.sub_bucket_mask
_HALF_COUNT: int = _layout.sub_bucket_half_count
_HALF_COUNT_MAGNITUDE: int = _layout.sub_bucket_half_count_magnitude
_BUCKET_SHIFT = _HALF_COUNT_MAGNITUDE + 1
_WORD = ctypes.sizeof(_layout.counts) // _layout.counts_len
# References a histogram holds to itself (its encoder points back at it): 2 = this name + the argument.
_SELF_REFERENCES = sys.getrefcount(_layout) - 2 if hasattr(sys, "getrefcount") else 0
del _layout
_SPARE_LIMIT = 64  # cleared histograms kept for reuse (3 per operation and second are in use)
# Reuse needs CPython's reference counts to prove that no listener kept a histogram.
_CAN_REUSE = hasattr(sys, "getrefcount")


def _index(value: int) -> int:
    bucket = (value | _SUB_BUCKET_MASK).bit_length() - _BUCKET_SHIFT
    return ((bucket + 1) << _HALF_COUNT_MAGNITUDE) + (value >> bucket) - _HALF_COUNT


def _clear(histogram: HdrHistogram) -> HdrHistogram:
    """Zero the used part of the counts array and the totals: the histogram is as new again."""
    if histogram.total_count:
        low, high = _index(histogram.min_value), _index(histogram.max_value)
        ctypes.memset(ctypes.addressof(histogram.counts) + low * _WORD, 0, (high - low + 1) * _WORD)
    histogram.total_count = 0
    histogram.min_value = sys.maxsize
    histogram.max_value = 0
    histogram.start_time_stamp_msec = 0
    histogram.end_time_stamp_msec = 0
    return histogram


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

    def __init__(self, histogram: HdrHistogram | None = None) -> None:
        self.histogram: HdrHistogram = histogram if histogram is not None else new_histogram()
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

    def __init__(self, main: _Filling) -> None:
        self.ok = 0
        self.main = main
        self.errors: dict[str, int] = {}
        self.values: dict[str, _Filling] = {}
        self.counters: dict[str, int] = {}
        self.attrs: dict[str, Any] | None = None


class PerSecondAggregator:
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
        self._spare: list[HdrHistogram] = []

    def _filling(self) -> _Filling:
        return _Filling(self._spare.pop() if self._spare else None)

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
            slot = self._seconds[(operation, second)] = _Second(self._filling())
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
                    filling = slot_values[name] = self._filling()
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
            slot = self._seconds[key] = _Second(self._filling())
        return slot

    def flush(self, before: float | None = None) -> None:
        """Emit the aggregates of every second that started before ``before`` (all when None)."""
        limit = None if before is None else int(before)
        for key in sorted(self._seconds):
            operation, second = key
            if limit is not None and second >= limit:
                continue
            slot = self._seconds.pop(key)
            histograms = [slot.main.done(), *(filling.done() for filling in slot.values.values())]
            record = AggregateRecord(
                scenario=self._scenario,
                mode=self._mode,
                operation=operation,
                second=second,
                ok=slot.ok,
                histogram=histograms[0],
                errors=slot.errors,
                values=dict(zip(slot.values, histograms[1:], strict=True)),
                counters=slot.counters,
                attrs=slot.attrs or {},
            )
            self._hook.fire(record)
            if _CAN_REUSE and sys.getrefcount(record) == 2:  # this frame's and the call's references
                del record, slot
                self._reuse(histograms)

        if limit is None:
            self._error_events.clear()
        else:
            for second in [s for s in self._error_events if s < limit]:
                del self._error_events[second]

    def _reuse(self, histograms: list[HdrHistogram]) -> None:
        """Keep for reuse the histograms only ``histograms`` still refers to (no listener kept them)."""
        spare = self._spare
        while histograms:
            histogram = histograms.pop()
            # References: its own, this variable and getrefcount's argument; more means someone kept it.
            if sys.getrefcount(histogram) == 2 + _SELF_REFERENCES and len(spare) < _SPARE_LIMIT:
                spare.append(_clear(histogram))
