"""Baseline settings: which earlier ``summary.json`` a run is compared with, and how strictly.

Environment variables (pytest options and ``python -m perf_tests compare`` flags override them):

    ``PERF_BASELINE``               a previous run's ``summary.json`` (or its results directory), or an
                                    ``s3://bucket/prefix/latest`` / ``s3://bucket/prefix/<run_id>`` reference.
    ``PERF_MAX_REGRESSION``         tolerated change before a metric counts as regressed: ``10%`` (default)
                                    or a fraction such as ``0.1``.
    ``PERF_BASELINE_MIN_SAMPLES``   attempts an operation needs in both runs to be compared (default 10).
    ``PERF_BASELINE_FLOOR_MS``      latency differences below this many milliseconds are noise (default 1).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from perf_tests.errors import ConfigurationError, echo

__all__ = ["BaselineOptions", "BaselineSettings", "baseline_options", "load_baseline_settings", "parse_tolerance"]

_TOLERANCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def parse_tolerance(value: str | float) -> float:
    """A tolerance as a fraction from ``10%`` or ``0.1``; ``ValueError`` otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number, percent = float(value), False
    else:
        match = _TOLERANCE.match(str(value))
        if not match:
            raise ValueError(f"{echo(value)} is not a tolerance; write a percentage like 10% or a fraction like 0.1")
        number, percent = float(match.group(1)), bool(match.group(2))
    if not math.isfinite(number):
        raise ValueError(f"{echo(value)} is not a tolerance; write a percentage like 10% or a fraction like 0.1")
    fraction = number / 100.0 if percent else number
    if not percent and fraction > 1:
        raise ValueError(f"{echo(value)} is ambiguous; write {number:g}% for a percentage or a fraction up to 1")
    if fraction > 10:
        raise ValueError(f"{echo(value)} is too large to be a regression tolerance")
    return fraction


@dataclass(frozen=True)
class BaselineOptions:
    """How to compare: relative ``tolerance`` (0.1 = 10%), the samples an operation needs in both runs,
    and the absolute latency difference (ms) below which a change is noise."""

    tolerance: float = 0.10
    min_samples: int = 10
    floor_ms: float = 1.0


class BaselineSettings(BaseSettings):
    """The ``PERF_BASELINE*`` and ``PERF_MAX_REGRESSION`` environment variables."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True,
                                      allow_inf_nan=False)

    baseline: str | None = Field(default=None, validation_alias="PERF_BASELINE")  # a path or an s3:// reference
    max_regression: float = Field(default=0.10, validation_alias="PERF_MAX_REGRESSION")
    min_samples: int = Field(default=10, ge=1, validation_alias="PERF_BASELINE_MIN_SAMPLES")
    floor_ms: float = Field(default=1.0, ge=0, validation_alias="PERF_BASELINE_FLOOR_MS")

    @field_validator("baseline", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("max_regression", mode="before")
    @classmethod
    def _tolerance(cls, value: object) -> float:
        if isinstance(value, str | int | float):
            return parse_tolerance(value)
        raise ValueError("write a percentage like 10% or a fraction like 0.1")

    def options(self) -> BaselineOptions:
        return BaselineOptions(self.max_regression, self.min_samples, self.floor_ms)


def load_baseline_settings() -> BaselineSettings:
    """Read the baseline settings from the environment; ``ConfigurationError`` if one is invalid."""
    try:
        return BaselineSettings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            problems.append(f"{name}={echo(err.get('input'))}: {str(err['msg']).removeprefix('Value error, ')}")
        raise ConfigurationError("invalid environment setting: " + "; ".join(problems)) from None


def baseline_options(
    max_regression: str | None = None, min_samples: int | None = None, floor_ms: float | None = None
) -> BaselineOptions:
    """Comparison options from command-line values, the environment filling in what is not given;
    ``ConfigurationError`` naming the option when a value is invalid."""
    defaults = load_baseline_settings().options()
    try:
        tolerance = parse_tolerance(max_regression) if max_regression is not None else defaults.tolerance
    except ValueError as exc:
        raise ConfigurationError(f"--max-regression: {exc}") from None
    if min_samples is not None and min_samples < 1:
        raise ConfigurationError("--min-samples must be at least 1")
    if floor_ms is not None and (not math.isfinite(floor_ms) or floor_ms < 0):
        raise ConfigurationError(f"--floor-ms must be a finite number of milliseconds >= 0 (got {floor_ms:g})")
    return BaselineOptions(
        tolerance,
        defaults.min_samples if min_samples is None else min_samples,
        defaults.floor_ms if floor_ms is None else floor_ms,
    )
