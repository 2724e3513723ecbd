"""The recorder listens to runner events and aggregates them; the events file writes them down.

Both are ``EventHook`` listeners. The recorder keeps bounded statistics per scenario and operation
(``OperationStats``) and each scenario's window; ``EventsFileWriter`` appends every event to
``events.jsonl`` as it happens, one JSON object per line, flushed at once so a crash loses nothing
already done.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from perf_tests.config.logging_config import EVENTS_LOGGER
from perf_tests.logger.redaction import redact
from perf_tests.recorder.event_codec import EVENTS_FILE_NAME, event_to_json, to_json_line
from perf_tests.recorder.events import (
    LOAD_FINISHED,
    LOAD_STARTED,
    AggregateRecord,
    Event,
    MetricsRecord,
    OperationEvent,
)
from perf_tests.recorder.stats import OperationStats, to_us

__all__ = ["EVENTS_FILE_NAME", "EventsFileWriter", "Recorder", "ScenarioRecord"]

events_logger = logging.getLogger(EVENTS_LOGGER)
#: Attributes of an operation event (seconds) aggregated as histograms of their own, summarised under
#: their name: ``lateness`` and ``latency`` of a load-engine request, ``queue_wait`` of a runner's
#: blocking call (time waiting for a free thread, not part of the call's duration), ``harness_delay`` of
#: a call on a runner's loop (from its answer's last byte read to the harness having it parsed: the
#: loop's delay and the client's parsing, not part of the call's duration), ``poll_gap`` of a ``get_run``
#: poll (time since the run's previous poll: the poll interval it actually got).
SECONDARY_DURATIONS = ("lateness", "latency", "queue_wait", "harness_delay", "poll_gap")


@dataclass
class ScenarioRecord:
    """What the recorder knows about one scenario entry."""

    name: str
    mode: str
    started: float | None = None
    finished: float | None = None
    load_started: float | None = None  # the load itself (a harness's run), when the entry says: its rates' window
    load_finished: float | None = None
    status: str | None = None
    message: str | None = None
    notes: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    operations: dict[str, OperationStats] = field(default_factory=dict)
    external: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stats(self, operation: str) -> OperationStats:
        stats = self.operations.get(operation)
        if stats is None:
            stats = self.operations[operation] = OperationStats()
        return stats


class Recorder:
    """Aggregates events per scenario and operation; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.scenarios: dict[str, ScenarioRecord] = {}

    def scenario(self, name: str, mode: str = "") -> ScenarioRecord:
        with self._lock:
            return self._scenario(name, mode)

    def _scenario(self, name: str, mode: str) -> ScenarioRecord:
        record = self.scenarios.get(name)
        if record is None:
            record = self.scenarios[name] = ScenarioRecord(name=name, mode=mode)
        elif mode and not record.mode:
            record.mode = mode
        return record

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, OperationEvent):
                stats = self._scenario(event.scenario, event.mode).stats(event.operation)
                stats.add(event.start, event.duration, event.ok, event.error_type)
                if event.attrs:
                    # Secondary durations: a load-engine request's send lateness and latency from its due
                    # time (every-request mode); a runner's blocking call's wait for a free thread.
                    for name in SECONDARY_DURATIONS:
                        value = event.attrs.get(name)
                        if isinstance(value, int | float):
                            stats.add_value(name, to_us(value))
                    stats.latest.update(event.attrs)
            elif isinstance(event, AggregateRecord):
                stats = self._scenario(event.scenario, event.mode).stats(event.operation)
                stats.merge_second(
                    event.second, event.ok, event.histogram, event.errors, event.values, event.counters
                )
                stats.latest.update(event.attrs)
            elif isinstance(event, MetricsRecord):
                record = self._scenario(event.scenario, event.mode)
                record.external[event.operation] = {**dict(event.stats), "source": event.source}
            else:
                record = self._scenario(event.scenario, event.mode)
                if event.phase == "started":
                    record.started = event.time
                elif event.phase == "finished":
                    record.finished = event.time
                    record.status = event.status
                    record.message = event.message
                elif event.phase == LOAD_STARTED:
                    record.load_started = event.time
                elif event.phase == LOAD_FINISHED:
                    record.load_finished = event.time
                elif event.phase == "note" and event.message:
                    record.notes.append(event.message)
                if event.attrs:
                    record.attrs.update(event.attrs)


class EventsFileWriter:
    """Appends each event to ``events.jsonl`` and flushes it; also logs operation events.

    At the first write that fails (a full disk) it stops writing, keeps the lines already written and
    calls ``on_error(file name, error)`` once; it never raises, also not from ``close()``.
    """

    def __init__(self, path: Path, on_error: Callable[[str, OSError], None] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._on_error = on_error
        self.lines = 0
        self.error: OSError | None = None

    def __call__(self, event: Event) -> None:
        text = to_json_line(event_to_json(event))
        failed: OSError | None = None
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(text + "\n")
                self._file.flush()
            except OSError as exc:
                failed = self.error = exc
                self._drop_file()
            else:
                self.lines += 1
        if failed is not None:
            self._failed(failed)
            return
        if isinstance(event, OperationEvent):
            self._log(event)

    def _drop_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):  # closing flushes what the disk refused: it fails again
                file.close()

    def _failed(self, exc: OSError) -> None:
        if self._on_error is not None:
            self._on_error(self.path.name, exc)
        else:
            events_logger.error("cannot write %s (%s); no more events go to it", self.path, exc.strerror or exc)

    @staticmethod
    def _log(event: OperationEvent) -> None:
        level = logging.INFO if event.ok else logging.WARNING
        if not events_logger.isEnabledFor(level):
            return
        outcome = "ok" if event.ok else f"{event.error_type}: {redact(event.error or '')[:200]}"
        events_logger.log(
            level,
            "%s %s %.1f ms %s",
            event.scenario,
            event.operation,
            event.duration * 1000.0,
            outcome,
            extra={
                "scenario": event.scenario,
                "mode": event.mode,
                "operation": event.operation,
                "duration_ms": round(event.duration * 1000.0, 3),
                "outcome": "ok" if event.ok else "error",
                "error_type": event.error_type,
            },
        )

    def close(self) -> None:
        """Close the file; a failure to write its last lines is reported like any other."""
        failed: OSError | None = None
        with self._lock:
            if self._file is not None:
                try:
                    self._file.close()
                except OSError as exc:
                    failed = self.error = exc
                self._file = None
        if failed is not None:
            self._failed(failed)
