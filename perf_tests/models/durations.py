"""Durations in scenario files: a number of minutes (as in the original framework, fractions allowed)
or a string with a unit (``"500ms"``, ``"90s"``, ``"10m"``, ``"1h"``, ``"1h30m"``). Parsed to seconds."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["Minutes", "Seconds", "parse_duration"]

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_MAX_SECONDS = 7 * 24 * 3600.0  # a week: anything longer is a typo in a perf scenario


def parse_duration(value: object, bare_unit: float) -> float:
    """Seconds from a number (in units of ``bare_unit`` seconds) or a unit string."""
    if isinstance(value, bool):
        raise ValueError("expected a number of minutes or a duration string like '90s', not true/false")
    if isinstance(value, int | float):
        try:
            seconds = float(value) * bare_unit
        except OverflowError:
            raise ValueError("a duration cannot be longer than 7 days") from None
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text) * bare_unit
        elif text and _PART.sub("", text) == "" :
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"{value!r} is not a duration; use minutes (2.5) or a string like '90s', '10m', '1h'")
    else:
        raise ValueError("expected a number of minutes or a duration string like '90s'")
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError("a duration must be a finite number")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > _MAX_SECONDS:
        raise ValueError("a duration cannot be longer than 7 days")
    return seconds


def _minutes(value: object) -> float:
    return parse_duration(value, 60.0)


def _seconds(value: object) -> float:
    return parse_duration(value, 1.0)


def _schema(bare_unit: float) -> dict[str, object]:
    return {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": _MAX_SECONDS / bare_unit},
            # The loader lower-cases and ignores spaces: the schema accepts what the loader accepts.
            {"type": "string", "pattern": _PATTERN},
        ]
    }


_PATTERN = r"^\s*(\d+(\.\d+)?\s*([mM][sS]|[sSmMhH])\s*)+$|^\s*\d+(\.\d+)?\s*$"
Minutes = Annotated[
    float,
    BeforeValidator(_minutes),
    WithJsonSchema({**_schema(60.0), "description": "minutes, or a duration string such as '90s', '10m', '1h'"}),
]
"""A duration given in minutes (or with a unit), held in seconds."""

Seconds = Annotated[
    float,
    BeforeValidator(_seconds),
    WithJsonSchema({**_schema(1.0), "description": "seconds, or a duration string such as '500ms', '2m'"}),
]
"""A duration given in seconds (or with a unit), held in seconds."""
