"""Results files as models: ``summary.json`` (run, environment, targets, entries, operations, totals,
verdicts and their checks, thresholds, baseline comparisons, Prometheus aggregates, the load generator's
health, the shards of a merged run) and ``run.json``; entry statuses; reading any version back.

``perf_tests.reports.summary`` builds a ``SummaryDocument``; every reader gets one from ``read_summary``.
The published JSON Schema is generated from ``SummaryDocument`` (``python -m perf_tests summary-schema``).
"""

from perf_tests.results.read import model_problems, problems_text, read_summary, summary_problems
from perf_tests.results.status import DID_NOT_RUN, EntryStatus
from perf_tests.results.summary import (
    SCHEMA_VERSION,
    Environment,
    Planned,
    PlannedEntry,
    RunFile,
    ScaleOut,
    ScenarioPart,
    ShardEntry,
    ShardPart,
    SummaryDocument,
    Target,
    Totals,
    upgrade,
)
from perf_tests.results.verdict import BaselineComparison, BaselinePart, Check, EntryVerdict, ThresholdResult

__all__ = [
    "DID_NOT_RUN",
    "SCHEMA_VERSION",
    "BaselineComparison",
    "BaselinePart",
    "Check",
    "EntryStatus",
    "EntryVerdict",
    "Environment",
    "Planned",
    "PlannedEntry",
    "RunFile",
    "ScaleOut",
    "ScenarioPart",
    "ShardEntry",
    "ShardPart",
    "SummaryDocument",
    "Target",
    "ThresholdResult",
    "Totals",
    "model_problems",
    "problems_text",
    "read_summary",
    "summary_problems",
    "upgrade",
]
