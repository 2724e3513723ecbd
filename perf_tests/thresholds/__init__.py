"""Verdicts: default checks (the entry ran, failures within the allowed rate) and thresholds.

``parser`` reads the threshold language of scenario files (``p95(create_run) < 2s``), ``evaluate``
measures thresholds against an entry's ``summary.json`` part and ``verdict`` holds the checks.
"""

from perf_tests.thresholds.evaluate import (
    Judgement,
    ThresholdEvaluation,
    baseline_overrides,
    evaluate_thresholds,
    format_value,
    judge_part,
    judge_with_thresholds,
    measure,
    requested_percentiles,
)
from perf_tests.thresholds.parser import METRIC_NAMES, Threshold, check_thresholds, parse_threshold
from perf_tests.thresholds.verdict import Check, EntryVerdict, default_checks, judge_entry

__all__ = [
    "METRIC_NAMES",
    "Check",
    "EntryVerdict",
    "Judgement",
    "Threshold",
    "ThresholdEvaluation",
    "baseline_overrides",
    "check_thresholds",
    "default_checks",
    "evaluate_thresholds",
    "format_value",
    "judge_entry",
    "judge_part",
    "judge_with_thresholds",
    "measure",
    "parse_threshold",
    "requested_percentiles",
]
