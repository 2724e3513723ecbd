"""Cheap recording for high-rate request streams: one aggregate record per stream per second.

A ``StreamRecorder`` belongs to one thread (one event loop); it records each attempt into the current
second's histogram and hands the second over to the ``EventHook`` when it closes. Failed attempts are
written as their own events up to ``error_events_per_second``; the rest are counted by type in the
aggregate, so every attempt is accounted for exactly once. With ``every_request`` each attempt becomes
its own ``OperationEvent`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hdrh.histogram import HdrHistogram

from perf_tests.recorder.events import AggregateRecord, EventHook, OperationEvent
from perf_tests.recorder.stats import new_histogram, to_us

__all__ = ["StreamRecorder"]


class _Second:
    __slots__ = ("counters", "errors", "histogram", "ok", "values")

    def __init__(self) -> None:
        self.ok = 0
        self.histogram: HdrHistogram = new_histogram()
        self.errors: dict[str, int] = {}
        self.values: dict[str, HdrHistogram] = {}
        self.counters: dict[str, int] = {}


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
        self._attrs: dict[str, dict[str, Any]] = {}

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
        slot = self._slot(operation, second)
        if ok:
            slot.ok += 1
            slot.histogram.record_value(to_us(duration))
        else:
            key = error_type or "error"
            slot.errors[key] = slot.errors.get(key, 0) + 1
        if values:
            for name, value in values.items():
                hist = slot.values.get(name)
                if hist is None:
                    hist = slot.values[name] = new_histogram()
                hist.record_value(to_us(value))
        if attrs:
            self._attrs.setdefault(operation, {}).update(attrs)

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
                    histogram=slot.histogram,
                    errors=slot.errors,
                    values=slot.values,
                    counters=slot.counters,
                    attrs=self._attrs.pop(operation, {}),
                )
            )
        if limit is None:
            self._error_events.clear()
        else:
            for second in [s for s in self._error_events if s < limit]:
                del self._error_events[second]
