"""Request counters of the simulator: per route and status, the faults it injected, and per route the
service time of its successful answers (from the request reaching the handler to the answer built)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["RequestStats"]


class RequestStats:
    """Counts requests by route template (``GET /apis/v2beta1/runs/{run_id}``) and status.

    Statuses are HTTP codes as strings, or ``"dropped"`` / ``"hung"`` for injected faults that never
    answer. Only touched from the server's event-loop thread.
    """

    def __init__(self) -> None:
        self.started = time.time()
        self.by_route: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.faults: Counter[str] = Counter()
        self.service: dict[str, HdrHistogram] = {}

    def observe(self, route: str, seconds: float) -> None:
        """Record the service time of one successful answer (1 µs to 1 h, 3 significant digits)."""
        histogram = self.service.get(route)
        if histogram is None:
            histogram = self.service[route] = HdrHistogram(1, 3_600_000_000, 3)
        histogram.record_value(min(max(int(seconds * 1e6), 1), 3_600_000_000))

    def record(self, route: str, status: int | str) -> None:
        """Count one request."""
        self.by_route[route][str(status)] += 1

    def fault(self, kind: str) -> None:
        """Count one injected fault (``error``, ``drop``, ``hang``, ``latency``, ``spike``)."""
        self.faults[kind] += 1

    def reset(self) -> None:
        """Start counting from zero."""
        self.started = time.time()
        self.by_route.clear()
        self.faults.clear()
        self.service.clear()

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain JSON-able data."""
        statuses: Counter[str] = Counter()
        for counts in self.by_route.values():
            statuses.update(counts)
        return {
            "since": self.started,
            "requests_total": sum(statuses.values()),
            "by_status": dict(sorted(statuses.items())),
            "by_route": {route: dict(sorted(counts.items())) for route, counts in sorted(self.by_route.items())},
            "faults": dict(sorted(self.faults.items())),
            "service_ms": {
                route: {
                    "count": h.get_total_count(),
                    "mean": round(h.get_mean_value() / 1000, 4),
                    **{f"p{p:g}": h.get_value_at_percentile(p) / 1000 for p in (50, 90, 99)},
                    "max": h.get_max_value() / 1000,
                }
                for route, h in sorted(self.service.items())
            },
        }
