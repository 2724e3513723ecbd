"""Baselines: compare a run with an earlier ``summary.json`` and fail on regressions.

``settings`` reads ``PERF_BASELINE`` and friends, ``compare`` compares two summaries metric by metric
(p50/p95/p99, rate, success rate) with a tolerance and noise floors, and turns regressions into
verdict checks.
"""

from perf_tests.baseline.compare import (
    COMPARED_METRICS,
    Baseline,
    Comparison,
    compare_parts,
    compare_summaries,
    comparison_checks,
    format_comparisons,
    load_summary,
)
from perf_tests.baseline.settings import (
    BaselineOptions,
    BaselineSettings,
    baseline_options,
    load_baseline_settings,
    parse_tolerance,
)

__all__ = [
    "COMPARED_METRICS",
    "Baseline",
    "BaselineOptions",
    "BaselineSettings",
    "Comparison",
    "baseline_options",
    "compare_parts",
    "compare_summaries",
    "comparison_checks",
    "format_comparisons",
    "load_baseline_settings",
    "load_summary",
    "parse_tolerance",
]
