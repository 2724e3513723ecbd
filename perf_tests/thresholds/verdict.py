"""The verdict of each scenario entry: a list of named checks, each passed or failed with a message.

Without thresholds an entry passes when it ran and its failed operations stay within
``allowedFailureRate`` (default 0: any failure fails it).
"""

from __future__ import annotations

from perf_tests.results.status import DID_NOT_RUN, EntryStatus
from perf_tests.results.summary import ScenarioPart
from perf_tests.results.verdict import Check, EntryVerdict

__all__ = ["Check", "EntryVerdict", "default_checks", "judge_entry"]


def _first_errors(scenario: ScenarioPart, limit: int = 3) -> str:
    parts = []
    for op_name, op in scenario.operations.items():
        for error_type, count in op.errors.items():
            parts.append(f"{op_name}: {count}x {error_type}")
    return "; ".join(parts[:limit])


def default_checks(scenario: ScenarioPart, allowed_failure_rate: float) -> list[Check]:
    """'ran' (the entry ran to its end) and 'failures' (failed operations within the allowed rate)."""
    status = scenario.status
    shown = None if status is None else str(status)
    checks = []
    if status in DID_NOT_RUN:
        message = scenario.message or ("did not run" if status == EntryStatus.NOT_RUN else "failed")
        checks.append(Check("ran", False, f"{scenario.name} could not run: {message}", shown,
                            EntryStatus.PASSED.value))
    else:
        checks.append(Check("ran", True, "ran to its end", shown, EntryStatus.PASSED.value))
    count, failed = int(scenario.totals.count or 0), int(scenario.totals.failed or 0)
    rate = failed / count if count else 0.0
    if failed and rate > allowed_failure_rate:
        checks.append(Check(
            "failures",
            False,
            f"{scenario.name}: {failed} of {count} operations failed ({rate:.1%}, allowed "
            f"{allowed_failure_rate:.1%}): {_first_errors(scenario)}",
            rate,
            allowed_failure_rate,
        ))
    else:
        checks.append(Check("failures", True, f"{failed} of {count} operations failed", rate, allowed_failure_rate))
    return checks


def judge_entry(scenario: ScenarioPart, allowed_failure_rate: float) -> EntryVerdict:
    """The default verdict of one entry from its ``summary.json`` part."""
    return EntryVerdict(scenario.name, scenario.mode, default_checks(scenario, allowed_failure_rate))
