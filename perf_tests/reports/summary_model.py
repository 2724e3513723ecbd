"""Reading ``summary.json`` back (``report``, ``compare``, ``--baseline``): the shape every reader relies on,
as models, so a malformed file is one clear error naming the file, the place and what is wrong.

The models check what readers use (types, counts that are whole and not negative, shares from 0 to 1,
finite durations and rates) and keep every other key: consumers ignore keys they do not know, and
``summary.schema.json`` documents the whole document. ``read_summary`` returns the document as read.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from perf_tests.errors import ConfigurationError, echo, echo_json
from perf_tests.models.fields import expand_user

__all__ = [
    "OperationSummary",
    "PlannedEntry",
    "RunFile",
    "ScenarioPart",
    "SummaryDocument",
    "check_operation_stats",
    "error_message",
    "model_problems",
    "problems_text",
    "read_summary",
    "summary_problems",
]

READ_SCHEMA_VERSION = 1
"""The ``schemaVersion`` this perf-tests reads (and writes)."""

_MAX_PROBLEMS = 5
_PERCENTILE_KEY = re.compile(r"^p\d+(\.\d+)?_ms$")

Count = Annotated[float, Field(ge=0)]  # a count (some sources, e.g. GuideLLM, give floats)
NonNegative = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class _Read(BaseModel):
    """Strict JSON types, finite numbers, other keys kept."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class LatenessStats(_Read):
    mean_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


class OperationSummary(_Read):
    """One operation's statistics (durations in ms over successful attempts)."""

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
    errors: dict[str, Count] = Field(default_factory=dict)
    lateness: LatenessStats | None = None
    source: str | None = None
    unit: str | None = None

    @model_validator(mode="after")
    def _percentiles(self) -> OperationSummary:
        for key, value in (self.model_extra or {}).items():
            if _PERCENTILE_KEY.match(key) and value is not None and not _milliseconds(value):
                raise ValueError(f"{key} must be a finite number of milliseconds >= 0 or null (got {echo_json(value)})")
        return self


def _milliseconds(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value >= 0


class Totals(_Read):
    count: Count = 0
    failed: Count = 0
    dropped: Count = 0


class CheckResult(_Read):
    name: str
    passed: bool
    message: str = ""
    measured: float | str | None = None
    limit: float | str | None = None


class Verdict(_Read):
    passed: bool | None = None
    checks: list[CheckResult] = Field(default_factory=list)


class ThresholdResult(_Read):
    threshold: str
    passed: bool | None = None
    kind: Literal["latency", "rate", "count", "ratio", "value"] | None = None  # value: prom:<query> (issue 13)
    operation: str | None = None
    measured: float | None = None
    limit: float | None = None
    measured_text: str = "-"
    limit_text: str = "-"
    skipped: bool = False
    message: str = ""


class BaselineComparison(_Read):
    operation: str
    metric: str
    status: Literal["regression", "improvement", "unchanged", "skipped"]
    kind: str | None = None
    baseline: float | None = None
    value: float | None = None
    change: float | None = None
    limit: float | None = None
    reason: str = ""


class BaselinePart(_Read):
    comparisons: list[BaselineComparison] = Field(default_factory=list)
    run_id: str | None = None
    tolerance: NonNegative | None = None
    regressions: Count = 0
    improvements: Count = 0


class ScenarioPart(_Read):
    """One scenario entry of a summary."""

    name: str
    mode: str = ""
    status: str | None = None
    message: str | None = None
    start: str | None = None
    end: str | None = None
    duration_s: NonNegative | None = None
    operations: dict[str, OperationSummary] = Field(default_factory=dict)
    totals: Totals = Field(default_factory=Totals)
    notes: list[str] = Field(default_factory=list)
    attrs: dict[str, Any] = Field(default_factory=dict)
    planned: dict[str, Any] | None = None
    thresholds: list[ThresholdResult] = Field(default_factory=list)
    baseline: BaselinePart | None = None
    verdict: Verdict | None = None


class Target(_Read):
    kind: str | None = None
    url: str | None = None
    version: str | None = None
    description: str | None = None


class SummaryDocument(_Read):
    """A whole ``summary.json``."""

    schema_version: int = Field(alias="schemaVersion")
    run_id: str | None = None
    start: str | None = None
    end: str | None = None
    duration_s: float | None = None
    interrupted: bool = False
    passed: bool | None = None
    scenario_file: str | None = None
    scenario: list[Any] = Field(default_factory=list)
    targets: dict[str, Target] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)
    scenarios: list[ScenarioPart]
    rebuilt_from_events: bool = False


class PlannedEntry(_Read):
    """One entry of ``run.json``: what a rebuilt summary needs of it."""

    name: str
    mode: str | None = None
    start_offset_s: NonNegative | None = None
    run_time_s: NonNegative | None = None
    thresholds: list[str] = Field(default_factory=list)
    allowed_failure_rate: Share | None = None


class RunFile(_Read):
    """``run.json``, written when a run starts."""

    run_id: str | None = None
    started: float | None = None
    scenario_file: str | None = None
    scenario: list[Any] = Field(default_factory=list)
    entries: list[PlannedEntry] = Field(default_factory=list)
    targets: dict[str, Target] = Field(default_factory=dict)


def error_message(error: Any) -> str:
    """A pydantic error's message in the words of JSON (objects and lists, not dictionaries and instances)."""
    message = str(error["msg"]).removeprefix("Value error, ")
    return _PYTHON_WORDS.sub("be an object", message).replace("be a valid list", "be a list")


_PYTHON_WORDS = re.compile(r"be a valid dictionary( or instance of \w+)?")


def model_problems(model: type[BaseModel], document: Any) -> list[str]:
    """Every way ``document`` does not fit ``model``, one ``place: problem (got ...)`` line each."""
    try:
        model.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error_message(error)
            shown = error.get("input")
            got = "" if error["type"] == "missing" or isinstance(shown, dict | list) else f" (got {echo_json(shown)})"
            problems.append(f"{_place(error['loc'], document)}: {message}{got}")
        return problems
    return []


def problems_text(problems: list[str]) -> str:
    """Problems for one error message: the first few, one a line, and how many more."""
    listed = problems[:_MAX_PROBLEMS]
    more = f"\n  and {len(problems) - len(listed)} more problems" if len(problems) > len(listed) else ""
    return ("\n  " if len(listed) > 1 else "") + "\n  ".join(listed) + more


def _place(loc: tuple[int | str, ...], document: Any) -> str:
    """``scenarios[0] (create-runs).operations.create_run.success_rate`` for a validation error's location."""
    parts: list[str] = []
    node = document
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str) and len(parts) == 2:
                parts.append(f" ({node['name'][:60]})")
            continue
        parts.append(("." if parts else "") + str(item)[:60])
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(document)"


def summary_problems(document: Any) -> list[str]:
    """What stops ``document`` from being read as a summary, one line each (empty when it can be)."""
    if not isinstance(document, dict):
        return [f"expected a JSON object with schemaVersion and scenarios, got {echo_json(document)}"]
    version = document.get("schemaVersion")
    if "schemaVersion" not in document:
        return ["it has no schemaVersion, so it is not a perf-tests summary.json"]
    if isinstance(version, int) and not isinstance(version, bool) and version > READ_SCHEMA_VERSION:
        return [f"schemaVersion {version} is newer than this perf-tests reads ({READ_SCHEMA_VERSION}); "
                "read it with the perf-tests version that wrote it, or upgrade"]
    if version != READ_SCHEMA_VERSION or isinstance(version, bool):
        return [f"schemaVersion must be {READ_SCHEMA_VERSION} (got {echo_json(version)})"]
    return model_problems(SummaryDocument, document)


def check_operation_stats(stats: Any) -> list[str]:
    """What is wrong with one operation's statistics (e.g. a ``metrics`` line of events.jsonl)."""
    try:
        OperationSummary.model_validate(stats)
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc'])) or '(stats)'}: {error_message(e)}"
                for e in exc.errors(include_url=False)]
    return []


def read_summary(path: str | Path, role: str = "summary") -> dict[str, Any]:
    """The ``summary.json`` at ``path`` (or in the results directory ``path``), checked.

    ``role`` names the file in errors (``baseline``, ``run``, ``summary``). ``FileNotFoundError`` when it
    does not exist; ``ConfigurationError`` naming the file, the place and the problem otherwise.
    """
    try:
        given = expand_user(str(path))
    except ValueError as exc:
        raise ConfigurationError(f"{role} {echo(str(path))}: {exc}") from None
    file = given
    try:
        if given.is_dir():
            file = given / "summary.json"
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ConfigurationError(f"{role} {file} is a directory without a summary.json") from None
    except OSError as exc:
        raise ConfigurationError(f"{role} {file} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{role} {file} is not UTF-8 text (byte {exc.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{role} {file} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                                 "give a run's summary.json") from None
    except (RecursionError, ValueError) as exc:
        raise ConfigurationError(f"{role} {file} cannot be read as JSON ({str(exc)[:100]})") from None
    problems = summary_problems(document)
    if problems:
        raise ConfigurationError(f"{role} {file} is not a valid perf-tests summary: {problems_text(problems)}")
    return cast(dict[str, Any], document)
