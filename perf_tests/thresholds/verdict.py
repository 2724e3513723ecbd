"""The verdict of each scenario entry: a list of named checks, each passed or failed with a message.

Without thresholds an entry passes when it ran and its failed operations stay within
``allowedFailureRate`` (default 0: any failure fails it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Check", "EntryVerdict", "default_checks", "judge_entry"]


@dataclass
class Check:
    """One pass/fail criterion with what was measured and what was allowed."""

    name: str
    passed: bool
    message: str
    measured: float | str | None = None
    limit: float | str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EntryVerdict:
    """All checks of one entry; it passes when every check does."""

    name: str
    mode: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "passed": self.passed,
                "checks": [check.as_json() for check in self.checks]}


def _first_errors(scenario: dict[str, Any], limit: int = 3) -> str:
    parts = []
    for op_name, op in scenario.get("operations", {}).items():
        for error_type, count in (op.get("errors") or {}).items():
            parts.append(f"{op_name}: {count}x {error_type}")
    return "; ".join(parts[:limit])


def default_checks(scenario: dict[str, Any], allowed_failure_rate: float) -> list[Check]:
    """'ran' (the entry ran to its end) and 'failures' (failed operations within the allowed rate)."""
    status = scenario.get("status")
    checks = []
    if status in ("error", "not_run", "hung"):
        message = scenario.get("message") or ("did not run" if status == "not_run" else "failed")
        checks.append(Check("ran", False, f"{scenario['name']} could not run: {message}", status, "passed"))
    else:
        checks.append(Check("ran", True, "ran to its end", status, "passed"))
    totals = scenario.get("totals", {})
    count, failed = int(totals.get("count") or 0), int(totals.get("failed") or 0)
    rate = failed / count if count else 0.0
    if failed and rate > allowed_failure_rate:
        checks.append(Check(
            "failures",
            False,
            f"{scenario['name']}: {failed} of {count} operations failed ({rate:.1%}, allowed "
            f"{allowed_failure_rate:.1%}): {_first_errors(scenario)}",
            rate,
            allowed_failure_rate,
        ))
    else:
        checks.append(Check("failures", True, f"{failed} of {count} operations failed", rate, allowed_failure_rate))
    return checks


def judge_entry(scenario: dict[str, Any], allowed_failure_rate: float) -> EntryVerdict:
    """The default verdict of one entry from its ``summary.json`` part."""
    return EntryVerdict(scenario["name"], scenario.get("mode", ""), default_checks(scenario, allowed_failure_rate))
