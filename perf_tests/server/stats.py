"""Request counters of the simulator: per route and status, plus the faults it injected."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

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
        }
