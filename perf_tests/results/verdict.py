"""An entry's verdict as ``summary.json`` holds it: its checks, its thresholds' outcomes and its baseline
comparison (judged by ``perf_tests.thresholds`` and ``perf_tests.baseline``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from perf_tests.recorder.operation_summary import Count, NonNegative, Number, ResultModel

__all__ = ["BaselineComparison", "BaselinePart", "Check", "EntryVerdict", "ThresholdResult"]


class Check(ResultModel):
    """One pass/fail criterion with what was measured and what was allowed (the keys it was given)."""

    keys_as_given: ClassVar[bool] = True

    name: str = Field(description="ran, failures, a threshold as written, baseline or 'baseline <metric>(<op>)'")
    passed: bool
    message: str = ""
    measured: Number | str | None = None
    limit: Number | str | None = None

    def __init__(self, *args: Any, **fields: Any) -> None:
        """Also positionally, ``Check(name, passed, message, measured, limit)``; what is missing is left to
        validation, which says so (validating a read check calls this too)."""
        super().__init__(**dict(zip(_CHECK_FIELDS, args, strict=False)), **fields)


_CHECK_FIELDS = ("name", "passed", "message", "measured", "limit")


class EntryVerdict(ResultModel):
    """All checks of one entry; it passes when every check does (``passed`` is computed when it is built)."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    mode: str = ""
    passed: bool
    checks: list[Check] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _passed_from_checks(cls, data: Any) -> Any:
        """A verdict read without ``passed`` passes when its checks do."""
        if isinstance(data, dict) and "passed" not in data and isinstance(data.get("checks"), list):
            return {**data, "passed": all(isinstance(c, dict) and c.get("passed") is True for c in data["checks"])}
        return data

    def __init__(self, name: str = "", mode: str = "", checks: Sequence[Check] = (), **extra: Any) -> None:
        # Also what validating a read verdict calls (pydantic calls a custom __init__), with checks as dicts.
        # Checks that are not a list are left to validation, which says so.
        if isinstance(checks, list | tuple):
            checks = list(checks)
            extra.setdefault("passed", all(
                c.get("passed") is True if isinstance(c, dict) else getattr(c, "passed", False) is True
                for c in checks))
        super().__init__(name=name, mode=mode, checks=checks, **extra)

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]


class ThresholdResult(ResultModel):
    """One threshold's outcome (``thresholds[]`` of an entry)."""

    threshold: str = Field(description="as written in the scenario file, e.g. p95(create_run) < 2s")
    metric: str | None = None
    operation: str | None = None
    comparator: str | None = Field(default=None, description="<, <=, >, >=, == or !=")
    kind: Literal["latency", "rate", "count", "ratio", "value"] | None = Field(
        default=None, description="latency in ms, rate per second, ratio a fraction, value a query's own unit")
    measured: Number | None = None
    limit: Number | None = None
    measured_text: str = "-"
    limit_text: str = "-"
    baseline: bool = Field(default=False, description="the limit is relative to the baseline")
    passed: bool | None = None
    skipped: bool = False
    message: str = ""


class BaselineComparison(ResultModel):
    """One metric of one operation against the baseline."""

    operation: str
    metric: str
    kind: str | None = None
    baseline: Number | None = None
    value: Number | None = None
    change: Number | None = None
    status: Literal["regression", "improvement", "unchanged", "skipped"]
    limit: Number | None = None
    reason: str = ""


class BaselinePart(ResultModel):
    """An entry's comparison with the baseline run (``--baseline``)."""

    omit_when_none: ClassVar[frozenset[str]] = frozenset({"path", "min_samples", "floor_ms"})

    path: str | None = None
    run_id: str | None = None
    tolerance: NonNegative | None = None
    min_samples: int | None = None
    floor_ms: Number | None = None
    regressions: Count = 0
    improvements: Count = 0
    comparisons: list[BaselineComparison] = Field(default_factory=list)
