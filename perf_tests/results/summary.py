"""``summary.json`` and ``run.json`` as models: the one definition of their shape.

The writer (``perf_tests.reports.summary.build_summary``) builds a ``SummaryDocument`` in one pass; every
reader (``report``, ``compare``, ``--baseline``, the reports, the scale-out merge) reads one with
``read_summary``, which also reads the older versions (``upgrade``). The published JSON Schema
(``perf_tests/reports/schemas/summary.schema.json``, ``python -m perf_tests summary-schema``) is
generated from these models (``summary_json_schema``).

Version 2 (this one) writes ``schema_version`` where version 1 wrote ``schemaVersion``; nothing else
changed. New optional keys are added without a new version; removing or changing a key changes it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from perf_tests.errors import echo_json
from perf_tests.observability.harness import HarnessReport
from perf_tests.observability.models import ObservationSummary
from perf_tests.recorder.operation_summary import (
    Count,
    NonNegative,
    Number,
    OperationSummary,
    ResultModel,
    Share,
)
from perf_tests.results.status import EntryStatus
from perf_tests.results.verdict import BaselinePart, EntryVerdict, ThresholdResult

__all__ = [
    "READ_VERSIONS",
    "SCHEMA_VERSION",
    "EntryAttrs",
    "Environment",
    "Planned",
    "PlannedEntry",
    "RunFile",
    "ScaleOut",
    "ScenarioPart",
    "ShardEntry",
    "ShardPart",
    "SummaryDocument",
    "Target",
    "Totals",
    "upgrade",
]

SCHEMA_VERSION: Literal[2] = 2
"""The ``schema_version`` this perf-tests writes."""
READ_VERSIONS = (1, 2)
"""The versions ``read_summary`` reads (older ones through ``upgrade``)."""

Timestamp = str  # ISO 8601 UTC, e.g. 2025-01-31T12:00:00.000Z
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


class Target(ResultModel):
    """What was measured (``targets.<kind>``)."""

    keys_as_given: ClassVar[bool] = True

    kind: str | None = Field(default=None, description="e.g. kfp-api or embedded-kfp-simulator")
    url: str | None = None
    version: str | None = None
    description: str | None = None


class Environment(ResultModel):
    """Versions and host of the run (the keys it was given: a version 1 summary read holds no others)."""

    keys_as_given: ClassVar[bool] = True

    perf_tests: str | None = None
    kfp: str | None = None
    guidellm: str | None = None
    python: str | None = None
    platform: str | None = None
    host: str | None = None


class Totals(ResultModel):
    """An entry's attempts over its own operations (not those with a ``source``)."""

    count: Count = 0
    failed: Count = 0
    dropped: Count = 0


class Planned(ResultModel):
    """An entry's plan: its mode and window on the shared clock."""

    keys_as_given: ClassVar[bool] = True

    mode: str | None = None
    start_offset_s: NonNegative | None = None
    run_time_s: NonNegative | None = None


class EntryAttrs(ResultModel):
    """Attributes of an entry's marks; other keys are the mode's own."""

    start_lateness_s: Number | None = Field(default=None, description="seconds it started after its start time")
    load: dict[str, Any] | None = Field(default=None, description="the load engine's plan and what it achieved")
    stack: dict[str, Any] | None = Field(default=None, description="the stack under test (LLM_LOAD with a stack)")
    keys_as_given: ClassVar[bool] = True


class ScenarioPart(ResultModel):
    """One scenario entry: its window, status, statistics per operation and verdict."""

    omit_when_none: ClassVar[frozenset[str]] = frozenset({"planned", "thresholds", "baseline", "verdict",
                                                          "prometheus"})

    name: str
    mode: str = ""
    status: EntryStatus | None = Field(default=None, strict=False)
    message: str | None = None
    start: Timestamp | None = Field(default=None, pattern=_TIMESTAMP)
    end: Timestamp | None = Field(default=None, pattern=_TIMESTAMP)
    duration_s: NonNegative | None = None
    operations: dict[str, OperationSummary] = Field(default_factory=dict)
    totals: Totals = Field(default_factory=Totals)
    notes: list[str] = Field(default_factory=list)
    attrs: EntryAttrs = Field(default_factory=EntryAttrs)
    planned: Planned | None = None
    thresholds: list[ThresholdResult] | None = Field(default=None, description="present when it has thresholds")
    baseline: BaselinePart | None = None
    verdict: EntryVerdict | None = None
    prometheus: ObservationSummary | None = Field(default=None, description="what Prometheus saw in its window")


class ShardEntry(ResultModel):
    """One shard's numbers of one entry."""

    status: EntryStatus | None = Field(default=None, strict=False)
    totals: Totals = Field(default_factory=Totals)
    operations: dict[str, OperationSummary] = Field(default_factory=dict)
    start_lateness_s: Number | None = None
    load: dict[str, Any] | None = None


class ShardPart(ResultModel):
    """One shard of a scaled-out run."""

    omit_when_none: ClassVar[frozenset[str]] = frozenset({"harness"})

    shard: str = Field(description="i/N")
    run_id: str
    results_dir: str
    start_lateness_s: Number
    interrupted: bool
    ran: list[str] = Field(default_factory=list)
    entries: dict[str, ShardEntry] = Field(default_factory=dict)
    harness: HarnessReport | None = Field(default=None, description="this shard's load-generator health "
                                          "(its own summary.json has the samples)")


class ScaleOut(ResultModel):
    """A merged run's shards: a shard that lagged or dropped arrivals is a finding the total hides."""

    omit_when_none: ClassVar[frozenset[str]] = frozenset({"note"})

    shards: int
    per_shard: list[ShardPart] = Field(default_factory=list)
    note: str | None = Field(default=None, description="where shards' events are when they are not here")


class SummaryDocument(ResultModel):
    """What a performance run did, against what, and per scenario entry and operation how it went."""

    omit_when_none: ClassVar[frozenset[str]] = frozenset({"harness", "scaleout", "rebuilt_from_events",
                                                          "rebuilt_at"})

    schema_version: Literal[2] = Field(default=SCHEMA_VERSION, description="shape version of this document")
    run_id: str = Field(min_length=1, description="the run's id (its UTC start time)")
    start: Timestamp | None = Field(pattern=_TIMESTAMP)
    end: Timestamp | None = Field(pattern=_TIMESTAMP)
    duration_s: Number | None = None
    interrupted: bool = Field(default=False, description="the run was stopped (Ctrl-C, SIGTERM) or died")
    passed: bool | None = Field(default=None, description="every entry passed and the run was not interrupted")
    scenario_file: str | None = None
    scenario: list[Any] = Field(default_factory=list, description="the scenario file's entries as run (raw JSON)")
    targets: dict[str, Target] = Field(default_factory=dict)
    environment: Environment = Field(default_factory=Environment)
    scenarios: list[ScenarioPart]
    harness: HarnessReport | None = Field(default=None, description="the load generator's own health")
    scaleout: ScaleOut | None = None
    rebuilt_from_events: bool | None = Field(default=None, description="rebuilt from events.jsonl")
    rebuilt_at: Timestamp | None = Field(default=None, pattern=_TIMESTAMP)

    def part(self, name: str) -> ScenarioPart | None:
        """The entry called ``name``."""
        return next((part for part in self.scenarios if part.name == name), None)


class PlannedEntry(ResultModel):
    """One entry of the whole scenario as planned: what a rebuilt summary (``run.json``) and the scale-out
    merge (``shard.json``) judge it by."""

    name: str
    mode: str | None = None
    start_offset_s: NonNegative | None = None
    run_time_s: NonNegative | None = None
    thresholds: list[str] = Field(default_factory=list)
    allowed_failure_rate: Share | None = None
    strict_harness: bool | None = Field(default=None, description="a saturated load generator fails the entry")


class RunFile(ResultModel):
    """``run.json``, written when a run starts."""

    run_id: str | None = None
    started: Number | None = None
    scenario_file: str | None = None
    scenario: list[Any] = Field(default_factory=list)
    entries: list[PlannedEntry] = Field(default_factory=list)
    targets: dict[str, Target] = Field(default_factory=dict)


def upgrade(document: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """A summary of any version this perf-tests reads, as the current version; or (None, why not)."""
    if "schema_version" in document:
        version = document["schema_version"]
    elif "schemaVersion" in document:  # version 1
        version = document["schemaVersion"]
        if version == 1 and not isinstance(version, bool):
            upgraded = {key: value for key, value in document.items() if key != "schemaVersion"}
            return {"schema_version": SCHEMA_VERSION, **upgraded}, None
    else:
        return None, "it has no schema_version, so it is not a perf-tests summary.json"
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        return None, (f"schema_version {version} is newer than this perf-tests reads ({SCHEMA_VERSION}); "
                      "read it with the perf-tests version that wrote it, or upgrade")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        versions = " or ".join(map(str, READ_VERSIONS))
        return None, f"schema_version must be {versions} (got {echo_json(version)})"
    return document, None
