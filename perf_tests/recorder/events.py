"""What runners emit: one ``OperationEvent`` per timed operation, or one ``AggregateRecord`` per second
for a high-rate stream, plus scenario lifecycle marks. Listeners subscribe to an ``EventHook``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "LOAD_FINISHED",
    "LOAD_STARTED",
    "AggregateRecord",
    "EmitOperation",
    "EventHook",
    "MetricsRecord",
    "OperationEvent",
    "ScenarioMark",
]


@dataclass(frozen=True, slots=True)
class OperationEvent:
    """One timed operation: who did it, when it started (epoch seconds), how long, and how it ended."""

    scenario: str
    mode: str
    operation: str
    start: float
    duration: float
    ok: bool
    error_type: str | None = None
    error: str | None = None
    attrs: Mapping[str, Any] | None = None


@dataclass(slots=True)
class AggregateRecord:
    """All attempts of one high-rate stream that started in one wall-clock second.

    ``histogram`` holds the durations (microseconds) of the successful attempts, ``errors`` counts the
    failed ones by type that were not written as their own events; ``values`` holds extra
    histograms of the same attempts (e.g. ``lateness``) and ``counters`` extra counts (``dropped``).
    """

    scenario: str
    mode: str
    operation: str
    second: int
    ok: int
    histogram: Any  # hdrh.histogram.HdrHistogram
    errors: dict[str, int] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


LOAD_STARTED = "load_started"
LOAD_FINISHED = "load_finished"


@dataclass(frozen=True, slots=True)
class ScenarioMark:
    """A scenario entry's lifecycle point: ``started``, ``finished`` (with status and error), ``note``, or
    ``load_started``/``load_finished``: the window of its load alone, when the entry does more than load
    (an LLM_LOAD entry deploys its stack first, its harness starts ahead): rates are per second of it."""

    scenario: str
    mode: str
    phase: str
    time: float
    status: str | None = None
    message: str | None = None
    attrs: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class MetricsRecord:
    """Statistics of one operation computed elsewhere (e.g. GuideLLM's report): the same keys as
    ``OperationStats.summary()`` (``count``, ``ok``, ``failed``, ``success_rate``, ``throughput``,
    ``mean_ms``, ``p50_ms``, ``p90_ms``, ``p95_ms``, ``p99_ms``, ``min_ms``, ``max_ms``, ...)."""

    scenario: str
    mode: str
    operation: str
    time: float
    stats: Mapping[str, Any]
    source: str = ""


logger = logging.getLogger(__name__)

Event = OperationEvent | AggregateRecord | ScenarioMark | MetricsRecord
Listener = Callable[[Event], None]


class EmitOperation(Protocol):
    """Where a component reports its timed operations (``BaseRunner.emit``'s signature)."""

    def __call__(
        self,
        operation: str,
        start: float,
        duration: float,
        ok: bool,
        error_type: str | None = None,
        error: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None: ...


class EventHook:
    """Fan-out of events to listeners (the recorder, the events file, progress), safe from any thread."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [*self._listeners, listener]

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [item for item in self._listeners if item is not listener]

    def fire(self, event: Event) -> None:
        """Give the event to every listener; one that fails is logged and does not stop the others
        (nor the measurement that fired the event)."""
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("event listener %r failed", listener)
