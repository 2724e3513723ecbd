"""``events.jsonl``: one JSON object per event, encoded and decoded here and nowhere else.

``event_to_json`` / ``to_json_line`` write the line of an event (histograms as HdrHistogram base64
encodings, NaN and infinities as null); ``read_event_lines`` reads a file back line by line, tolerating a
torn last line (a run killed mid-write), and ``event_from_json`` turns each line into the event the runner
fired, so a ``Recorder`` can aggregate it again (``perf_tests.reports.replay``) and the report can draw
it (``perf_tests.reports.timeline``); ``time_range`` finds a file's first and last time without parsing.

Every line that is a JSON object is checked against the shape its ``type`` has (finite numbers, counts,
objects where objects belong); a line that is not is a ``ConfigurationError`` naming the file, the line
and the field, not a traceback deep in a report. Lines of unknown types are skipped (newer writers).
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from perf_tests.errors import ConfigurationError, echo_json
from perf_tests.logger.redaction import redact
from perf_tests.recorder.events import AggregateRecord, Event, MetricsRecord, OperationEvent, ScenarioMark
from perf_tests.recorder.operation_summary import check_operation_stats, error_message
from perf_tests.recorder.stats import new_histogram

__all__ = [
    "EVENTS_FILE_NAME",
    "decode_histogram",
    "event_from_json",
    "event_to_json",
    "finite_json",
    "histogram_values",
    "line_problem",
    "read_event_lines",
    "time_range",
    "to_json_line",
]

EVENTS_FILE_NAME = "events.jsonl"
logger = logging.getLogger(__name__)

def event_to_json(event: Event) -> dict[str, Any]:
    """The events.jsonl form of an event (histograms as HdrHistogram base64 encodings)."""
    if isinstance(event, OperationEvent):
        line: dict[str, Any] = {
            "type": "op",
            "t": round(event.start, 6),
            "scenario": event.scenario,
            "mode": event.mode,
            "op": event.operation,
            "ms": round(event.duration * 1000.0, 3),
            "ok": event.ok,
        }
        if not event.ok:
            line["error_type"] = event.error_type or "error"
            if event.error:
                line["error"] = redact(event.error)[:500]
        if event.attrs:
            line["attrs"] = dict(event.attrs)
        return line
    if isinstance(event, AggregateRecord):
        line = {
            "type": "agg",
            "t": event.second,
            "scenario": event.scenario,
            "mode": event.mode,
            "op": event.operation,
            "ok": event.ok,
            "errors": event.errors,
            "hist": event.histogram.encode().decode("ascii") if event.histogram.get_total_count() else None,
        }
        if event.values:
            line["values"] = {
                name: hist.encode().decode("ascii")
                for name, hist in event.values.items()
                if hist.get_total_count()
            }
        if event.counters:
            line["counters"] = event.counters
        if event.attrs:
            line["attrs"] = event.attrs
        return line
    if isinstance(event, MetricsRecord):
        return {"type": "metrics", "t": round(event.time, 6), "scenario": event.scenario, "mode": event.mode,
                "op": event.operation, "source": event.source, "stats": dict(event.stats)}
    line = {"type": "scenario", "t": round(event.time, 6), "scenario": event.scenario, "mode": event.mode,
            "phase": event.phase}
    if event.status:
        line["status"] = event.status
    if event.message:
        line["message"] = redact(event.message)
    if event.attrs:
        line["attrs"] = dict(event.attrs)
    return line


def finite_json(value: Any) -> Any:
    """The value with NaN and infinities as None: strict JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(item) for item in value]
    return value


def to_json_line(data: dict[str, Any]) -> str:
    """Strict JSON (NaN and infinities become null, which jq and JSON.parse accept)."""
    try:
        return json.dumps(data, separators=(",", ":"), default=str, allow_nan=False)
    except ValueError:
        return json.dumps(finite_json(data), separators=(",", ":"), default=str, allow_nan=False)



_COLLECT_EVERY = 500


class _Line(BaseModel):
    """Fields every events.jsonl line has; strict JSON types, finite numbers, other keys kept."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    t: float
    scenario: str = ""
    mode: str = ""


class _OpLine(_Line):
    op: str = ""
    ms: float = Field(default=0.0, ge=0)
    ok: bool = False
    error_type: str | None = None
    error: str | None = None
    attrs: dict[str, Any] | None = None


class _AggLine(_Line):
    t: float = Field(ge=0)
    op: str = ""
    # Counts are whole numbers when this perf-tests writes them; any finite number >= 0 reads.
    ok: float = Field(default=0, ge=0)
    errors: dict[str, float] | None = None
    hist: str | None = None
    values: dict[str, str] | None = None
    counters: dict[str, float] | None = None
    attrs: dict[str, Any] | None = None

    @field_validator("errors", "counters")
    @classmethod
    def _counts(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value and any(count < 0 for count in value.values()):
            raise ValueError("counts cannot be negative")
        return value


class _MetricsLine(_Line):
    op: str = ""
    source: str | None = None
    stats: dict[str, Any] | None = None

    @field_validator("stats")
    @classmethod
    def _stats(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        problems = check_operation_stats(value or {})
        if problems:
            raise ValueError("; ".join(problems[:3]))
        return value


class _ScenarioLine(_Line):
    phase: str = ""
    status: str | None = None
    message: str | None = None
    attrs: dict[str, Any] | None = None


_LINE_MODELS: dict[str, type[_Line]] = {
    "op": _OpLine, "agg": _AggLine, "metrics": _MetricsLine, "scenario": _ScenarioLine,
}


def line_problem(item: dict[str, Any]) -> str | None:
    """What is wrong with one events.jsonl object, or None when it has its type's shape."""
    kind = item.get("type")
    model = _LINE_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return None
    try:
        model.model_validate(item)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part)[:60] for part in error["loc"]) or "(line)"
        shown = error.get("input")
        got = "" if error["type"] == "missing" or isinstance(shown, dict | list) else f" (got {echo_json(shown)})"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"an event of type {item['type']!r}: field {where!r}: {error_message(error)}{got}{more}"
    return None


class _NotJsonConstant(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NotJsonConstant(name)


def read_event_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every JSON object in an events file, checked (``line_problem``); lines that are not JSON (a torn last
    line) are skipped. ``ConfigurationError`` naming the file and line for an object of the wrong shape, or
    for ``NaN``/``Infinity``, which the writer never writes."""
    if not path.is_file():
        return
    skipped = 0
    with path.open(encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file):
            if number % _COLLECT_EVERY == _COLLECT_EVERY - 1:
                # A decoded HdrHistogram and its encoder refer to each other, so each one (a 224 KiB counts
                # array) waits for the cyclic collector; without this a 30-minute run's report peaked at
                # 550 MB instead of 185 MB.
                gc.collect()
            text = line.strip()
            if not text:
                continue
            try:
                item = json.loads(text, parse_constant=_constant)
            except _NotJsonConstant as exc:
                raise ConfigurationError(
                    f"{path} line {number + 1}: {exc} is not a JSON number (events.jsonl is written without "
                    "NaN or Infinity; was the file edited?)"
                ) from None
            except (json.JSONDecodeError, RecursionError):
                skipped += 1
                continue
            except ValueError as exc:  # an integer with more digits than Python converts
                raise ConfigurationError(f"{path} line {number + 1}: {str(exc)[:200]}") from None
            if not isinstance(item, dict):
                skipped += 1
                continue
            problem = line_problem(item)
            if problem:
                raise ConfigurationError(f"{path} line {number + 1}: {problem}")
            yield item
    if skipped:
        logger.warning("%s: skipped %d line(s) that are not JSON objects (torn by a crash?)", path, skipped)


_TIME = re.compile(rb'"t":\s*(-?[0-9.eE+-]+)')
_MS = re.compile(rb'"ms":\s*([0-9.eE+-]+)')


def time_range(events: Path) -> tuple[float | None, float | None]:
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


def decode_histogram(encoded: Any) -> HdrHistogram | None:
    """The HdrHistogram of a base64 encoding in an ``agg`` line, or None if absent or unreadable."""
    if not isinstance(encoded, str) or not encoded:
        return None
    try:
        return HdrHistogram.decode(encoded)
    except Exception:  # hdrh raises several kinds on corrupt input; a bad second must not stop a report
        logger.warning("an aggregate record holds an unreadable histogram; it is left out")
        return None


_NONZERO_BYTES = bytes([0] + [1] * 255)  # translate table: every non-zero byte becomes 1


def histogram_values(histogram: HdrHistogram) -> list[tuple[float, int]]:
    """The recorded values of a histogram as ``(milliseconds, count)``, each value the highest of its
    equivalence range (as ``get_value_at_percentile`` reports it). Much faster than hdrh's recorded
    iterator: non-zero counts are found with ``bytes.find`` (memchr) over the counts array, so only the
    recorded indices are visited in Python."""
    counts = histogram.counts
    itemsize = max(1, ctypes.sizeof(counts) // max(1, len(counts)))
    marks = bytes(memoryview(counts).cast("B")).translate(_NONZERO_BYTES)
    half_magnitude = histogram.sub_bucket_half_count_magnitude
    half = histogram.sub_bucket_half_count
    unit = histogram.unit_magnitude
    values: list[tuple[float, int]] = []
    position = marks.find(b"\x01")
    while position >= 0:
        index = position // itemsize
        count = int(counts[index])
        bucket = (index >> half_magnitude) - 1
        sub_bucket = (index & (half - 1)) + half
        if bucket < 0:
            sub_bucket -= half
            bucket = 0
        shift = bucket + unit
        values.append((((sub_bucket << shift) + (1 << shift) - 1) / 1000.0, count))
        position = marks.find(b"\x01", (index + 1) * itemsize)
    return values


def _float(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def event_from_json(line: dict[str, Any]) -> Event | None:
    """The event an ``events.jsonl`` line records, or None for a line of an unknown type."""
    kind = line.get("type")
    scenario, mode = str(line.get("scenario", "")), str(line.get("mode", ""))
    t = _float(line.get("t"))
    if kind == "op":
        attrs = line.get("attrs")
        return OperationEvent(
            scenario, mode, str(line.get("op", "")), t, _float(line.get("ms")) / 1000.0, bool(line.get("ok")),
            line.get("error_type"), line.get("error"), attrs if isinstance(attrs, dict) else None,
        )
    if kind == "agg":
        histogram = decode_histogram(line.get("hist")) or new_histogram()
        values = {}
        for name, encoded in (line.get("values") or {}).items():
            decoded = decode_histogram(encoded)
            if decoded is not None:
                values[name] = decoded
        return AggregateRecord(
            scenario, mode, str(line.get("op", "")), int(t), int(_float(line.get("ok"))), histogram,
            errors={str(k): int(v) for k, v in (line.get("errors") or {}).items()},
            values=values,
            counters={str(k): int(v) for k, v in (line.get("counters") or {}).items()},
            attrs=dict(line.get("attrs") or {}),
        )
    if kind == "metrics":
        return MetricsRecord(scenario, mode, str(line.get("op", "")), t, dict(line.get("stats") or {}),
                             str(line.get("source") or ""))
    if kind == "scenario":
        attrs = line.get("attrs")
        return ScenarioMark(scenario, mode, str(line.get("phase", "")), t, line.get("status"), line.get("message"),
                            attrs if isinstance(attrs, dict) else None)
    return None
