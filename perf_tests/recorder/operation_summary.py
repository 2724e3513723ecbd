"""One operation's statistics as ``summary.json`` (and a ``metrics`` line of ``events.jsonl``) holds them.

``ResultModel`` is the base of every model of a results file (``perf_tests.results``): strict JSON types,
finite numbers, other keys kept (readers ignore keys they do not know), and ``as_json`` writes the keys
a model declares, leaving out the optional sections that are absent (``omit_when_none``); a model with
``keys_as_given`` (an operation's statistics, whose keys depend on where they came from) writes exactly
the keys it was given, so a document read and written again is the document that was read.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from perf_tests.errors import echo_json

__all__ = [
    "Count",
    "NonNegative",
    "Number",
    "OperationSummary",
    "ResultModel",
    "SecondaryStats",
    "Share",
    "check_operation_stats",
    "error_message",
]

# ``int | float``: a whole number is written as it was given (``5``, not ``5.0``).
Number = int | float
Count = Annotated[int | float, Field(ge=0)]  # a count (some sources, e.g. GuideLLM, give floats)
NonNegative = Annotated[int | float, Field(ge=0)]
Share = Annotated[int | float, Field(ge=0, le=1)]
_PERCENTILE_KEY = re.compile(r"^p\d+(\.\d+)?_ms$")


class ResultModel(BaseModel):
    """Strict JSON types, finite numbers, other keys kept (see the module docstring for ``as_json``)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    omit_when_none: ClassVar[frozenset[str]] = frozenset()
    keys_as_given: ClassVar[bool] = False

    @model_serializer(mode="wrap")
    def _written_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.keys_as_given:
            given = self.model_fields_set | set(self.model_extra or {})
            data = {key: value for key, value in data.items() if key in given}
        return {key: value for key, value in data.items() if value is not None or key not in self.omit_when_none}

    def as_json(self) -> dict[str, Any]:
        """The JSON form, as ``summary.json`` holds it."""
        return self.model_dump(mode="json")


class SecondaryStats(ResultModel):
    """A secondary duration of an operation (send lateness, queue wait, poll gap), in ms."""

    mean_ms: Number | None = None
    p50_ms: Number | None = None
    p99_ms: Number | None = None
    max_ms: Number | None = None


class OperationSummary(ResultModel):
    """One operation's statistics: durations in ms over successful attempts, throughput in attempts per
    second of the entry's window. Operations with a ``source`` hold statistics computed elsewhere (e.g.
    GuideLLM, another harness) and may lack counts; ``not_measured`` says that harness does not measure it.
    Further percentiles are ``p<N>_ms`` keys; counters of the operation (``dropped``, ...) are kept too."""

    model_config = ConfigDict(json_schema_extra={"patternProperties": {_PERCENTILE_KEY.pattern: {
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]}}})
    keys_as_given: ClassVar[bool] = True

    count: Count | None = None
    ok: Count | None = None
    failed: Count | None = None
    dropped: Count | None = None
    success_rate: Share | None = None
    error_rate: Share | None = None
    throughput: NonNegative | None = None
    min_ms: NonNegative | None = None
    mean_ms: NonNegative | None = None
    max_ms: NonNegative | None = None
    p50_ms: NonNegative | None = None
    p90_ms: NonNegative | None = None
    p95_ms: NonNegative | None = None
    p99_ms: NonNegative | None = None
    errors: dict[str, Count] = Field(default_factory=dict)
    lateness: SecondaryStats | None = Field(default=None, description="a load-engine request's send lateness")
    latency: SecondaryStats | None = Field(
        default=None, description="a load-engine request's latency from its due time")
    queue_wait: SecondaryStats | None = Field(
        default=None, description="time a blocking call waited for a free thread (not part of its duration)")
    harness_delay: SecondaryStats | None = Field(
        default=None, description="time after a call's answer was read before the harness had it (the event loop "
        "getting round to it, parsing; not part of its duration)")
    poll_gap: SecondaryStats | None = Field(
        default=None, description="get_run only: time between a run's polls, the poll interval runs got")
    source: str | None = Field(default=None, description="where statistics computed elsewhere came from")
    unit: str | None = None
    not_measured: str | None = Field(default=None, description="'not measured by <harness>'")

    def stat(self, key: str) -> Any:
        """The statistic ``key``: a declared one or a further one (``p99.9_ms``, a counter); None when absent."""
        if key in type(self).model_fields:
            return getattr(self, key)
        return (self.model_extra or {}).get(key)

    def given(self) -> list[str]:
        """The keys this operation holds, in their written order (``as_json``)."""
        return list(self.as_json())

    @model_validator(mode="after")
    def _percentiles(self) -> OperationSummary:
        for key, value in (self.model_extra or {}).items():
            if _PERCENTILE_KEY.match(key) and value is not None and not _milliseconds(value):
                raise ValueError(f"{key} must be a finite number of milliseconds >= 0 or null (got {echo_json(value)})")
        return self


def _milliseconds(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value >= 0


def error_message(error: Any) -> str:
    """A pydantic error's message in the words of JSON (objects and lists, not dictionaries and instances)."""
    message = str(error["msg"]).removeprefix("Value error, ")
    return _PYTHON_WORDS.sub("be an object", message).replace("be a valid list", "be a list")


_PYTHON_WORDS = re.compile(r"be a valid dictionary( or instance of \w+)?")


def check_operation_stats(stats: Any) -> list[str]:
    """What is wrong with one operation's statistics (e.g. a ``metrics`` line of events.jsonl)."""
    try:
        OperationSummary.model_validate(stats)
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc'])) or '(stats)'}: {error_message(e)}"
                for e in exc.errors(include_url=False)]
    return []
