"""The harness's own time around an operation, shown beside its latency when notable (console and report.html).

``queue_wait`` (a blocking call waiting for a free thread) and ``harness_delay`` (after the answer's last
byte: the event loop getting round to it, parsing) are recorded apart from the latency
(``perf_tests.runners.base_runner``); a report shows their p99 once it reaches ``NOTABLE_MS``.
"""

from __future__ import annotations

from perf_tests.recorder.operation_summary import OperationSummary, SecondaryStats

__all__ = ["NOTABLE_MS", "notable_harness_times"]

#: A p99 below this is the harness working as it should: not shown.
NOTABLE_MS = 1.0

_LABELS = (("queue_wait", "queue wait"), ("harness_delay", "harness delay"))


def notable_harness_times(op: OperationSummary) -> list[tuple[str, SecondaryStats]]:
    """(label, stats) of each harness time of ``op`` whose p99 is at least ``NOTABLE_MS``, queue wait first."""
    shown = []
    for field, label in _LABELS:
        stats: SecondaryStats | None = getattr(op, field)
        if stats is not None and (stats.p99_ms or 0) >= NOTABLE_MS:
            shown.append((label, stats))
    return shown
