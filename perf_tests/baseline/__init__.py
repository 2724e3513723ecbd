"""Baselines: compare a run with an earlier ``summary.json`` and fail on regressions.

``settings`` reads ``PERF_BASELINE`` and friends, ``compare`` compares two summaries metric by metric
(p50/p95/p99, rate, success rate) with a tolerance and noise floors, and turns regressions into
verdict checks; ``source`` reads a baseline from a path or an ``s3://`` reference.
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
from perf_tests.baseline.source import load_summary_reference, open_baseline

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
    "load_summary_reference",
    "open_baseline",
    "parse_tolerance",
]
