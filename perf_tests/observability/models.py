"""What Prometheus said about one entry: series and aggregates per query and window (pydantic models).

``EntryObservation`` is written whole to ``prometheus/<entry>.json``; ``summary()`` is its part of
``summary.json`` (``ObservationSummary``: aggregates only, no series). ``Aggregate`` is over every finite
sample of every series of a query in a window; ``last`` is the value at the latest timestamp (the largest
if several series have one there).
A query that returned no sample has ``status: no_data`` and no aggregate, never zeros.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Aggregate",
    "EntryObservation",
    "EntryQueries",
    "ObservationSummary",
    "QueryResult",
    "QuerySummary",
    "Series",
    "Window",
    "WindowSummary",
    "aggregate",
]

# deferred: a shard of a scaled-out run; the merge queries Prometheus once over the merged window.
ObservationStatus = Literal["ok", "not_configured", "deferred", "error"]


class Series(BaseModel):
    """One series of a range query: its labels and ``[epoch seconds, value]`` pairs (None for NaN)."""

    labels: dict[str, str] = Field(default_factory=dict)
    values: list[tuple[float, float | None]] = Field(default_factory=list)


class Aggregate(BaseModel):
    """min / mean / max / last over a query's samples in one window."""

    min: float
    mean: float
    max: float
    last: float
    samples: int
    series: int


class QuerySummary(BaseModel):
    """One query over one window, as ``summary.json`` holds it (no series)."""

    name: str
    expr: str
    status: Literal["ok", "no_data", "error"] = Field(description="no_data: the query returned no sample (never 0)")
    message: str | None = None
    aggregate: Aggregate | None = None


class QueryResult(QuerySummary):
    """One query over one window, with its series."""

    series: list[Series] = Field(default_factory=list)

    def summary(self) -> QuerySummary:
        return QuerySummary(name=self.name, expr=self.expr, status=self.status, message=self.message,
                            aggregate=self.aggregate)


class EntryQueries(BaseModel):
    """One entry's queries as they are run: the step and every PromQL with its ``$variables`` filled."""

    step: float = Field(gt=0, allow_inf_nan=False)
    expressions: dict[str, str] = Field(default_factory=dict, description="query name -> PromQL")


class Window(BaseModel):
    """A span of the shared clock the queries cover: the entry, one of its stages, or one copy."""

    name: str
    kind: Literal["entry", "stage", "copy"] = "entry"
    start: float
    end: float
    queries: list[QueryResult] = Field(default_factory=list)


class WindowSummary(BaseModel):
    """A stage's or copy's window and its queries' aggregates."""

    name: str
    kind: Literal["entry", "stage", "copy"]
    start: float
    end: float
    queries: dict[str, QuerySummary] = Field(default_factory=dict)


class ObservationSummary(BaseModel):
    """What Prometheus saw over an entry's window (the entry's ``prometheus`` in ``summary.json``)."""

    status: ObservationStatus
    message: str | None = None
    url: str | None = None
    step_s: float | None = None
    start: float | None = None
    end: float | None = None
    queries: dict[str, QuerySummary] = Field(default_factory=dict, description="the entry window's, by name")
    windows: list[WindowSummary] = Field(default_factory=list, description="each further window (stage, copy)")


class EntryObservation(BaseModel):
    """Every window of one entry (the entry's own first) and what each query returned in it."""

    entry: str
    status: ObservationStatus
    message: str | None = None
    url: str | None = None
    step_s: float | None = None
    windows: list[Window] = Field(default_factory=list)

    def summary(self) -> ObservationSummary:
        """The ``prometheus`` part of the entry in ``summary.json``: the entry window's queries by name, and
        each further window's aggregates."""
        own = self.windows[0] if self.windows else None
        return ObservationSummary(
            status=self.status, message=self.message, url=self.url, step_s=self.step_s,
            start=own.start if own else None, end=own.end if own else None,
            queries={q.name: q.summary() for q in own.queries} if own else {},
            windows=[WindowSummary(name=w.name, kind=w.kind, start=w.start, end=w.end,
                                   queries={q.name: q.summary() for q in w.queries}) for w in self.windows[1:]],
        )


def _value(text: object) -> float | None:
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_matrix(result: list[dict[str, Any]]) -> list[Series]:
    """The series of a ``query_range`` answer."""
    out = []
    for item in result:
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        values = [(float(point[0]), _value(point[1])) for point in item.get("values") or []
                  if isinstance(point, list | tuple) and len(point) == 2]
        out.append(Series(labels=labels, values=values))
    return out


def aggregate(series: list[Series]) -> Aggregate | None:
    """min/mean/max/last over every finite sample; None when there is none."""
    samples = [(t, v) for s in series for t, v in s.values if v is not None]
    if not samples:
        return None
    values = [v for _, v in samples]
    latest = max(t for t, _ in samples)
    last = max(v for t, v in samples if t == latest)
    return Aggregate(min=min(values), mean=sum(values) / len(values), max=max(values), last=last,
                     samples=len(values), series=sum(1 for s in series if any(v is not None for _, v in s.values)))
