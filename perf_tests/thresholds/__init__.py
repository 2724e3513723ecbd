"""Verdicts: default checks (the entry ran, failures within the allowed rate) and thresholds."""

from perf_tests.thresholds.verdict import Check, EntryVerdict, default_checks, judge_entry

__all__ = ["Check", "EntryVerdict", "default_checks", "judge_entry"]
