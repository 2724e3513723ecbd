"""``shard.json``: what one shard of a scaled-out run hands to the merge (a model, one file format).

Besides the recorder's state it carries what the merge needs to observe the run as a one-process run does:
each entry's Prometheus queries and its stage/copy windows (the merge queries Prometheus once over the
merged windows), where the shard's Prometheus was (no token: the merge reads its own) and the shard's
load-generator health (each shard sampled its own process).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from perf_tests.errors import ConfigurationError
from perf_tests.observability.harness import HarnessReport
from perf_tests.observability.models import EntryQueries, Window
from perf_tests.results.summary import PlannedEntry
from perf_tests.scaleout.shard import ShardSpec
from perf_tests.scaleout.snapshot import RecorderSnapshot

__all__ = ["SHARD_FILE_NAME", "PrometheusEndpoint", "ShardResult", "read_shard_result", "write_shard_result"]

SHARD_FILE_NAME = "shard.json"


class PrometheusEndpoint(BaseModel):
    """Where a shard's Prometheus was (``PROMETHEUS_*`` without the token, which never leaves a process)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    url: str
    verify_ssl: bool = True
    ca_bundle: str | None = None
    timeout: float = 30.0


class ShardResult(BaseModel):
    """One shard's results: which shard, when it ran, its plan's notes and its recorder's state."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    shard: ShardSpec
    run_id: str = Field(description="The whole run's id (the same on every shard).")
    shard_run_id: str
    results_dir: str
    started: float
    finished: float
    t0: float | None = Field(default=None, description="The shard's t0 (epoch s): the shared start time.")
    start_lateness_s: float = Field(default=0.0, description="How long after the shared start it got there.")
    interrupted: bool = False
    scenario_file: str | None = None
    scenario: list[Any] = Field(default_factory=list, description="The scenario as written (redacted).")
    entries: list[PlannedEntry] = Field(default_factory=list)
    llm_entries: dict[str, dict[str, Any]] = Field(default_factory=dict, description="entry -> the whole (unsplit) "
                                                   "LLM_LOAD entry as run (redacted): what the merged universal "
                                                   "report describes")
    plan_notes: dict[str, str] = Field(default_factory=dict, description="entry -> what was not split")
    ran: list[str] = Field(default_factory=list, description="The entries this shard ran.")
    targets: dict[str, Any] = Field(default_factory=dict)
    snapshot: RecorderSnapshot = Field(default_factory=RecorderSnapshot)
    queries: dict[str, EntryQueries] = Field(default_factory=dict, description="entry -> its Prometheus queries")
    windows: dict[str, list[Window]] = Field(default_factory=dict, description="entry -> its stage and copy "
                                             "windows on the shared clock (the entry's own is the merged one)")
    prometheus: PrometheusEndpoint | None = None
    harness: HarnessReport | None = Field(default=None, description="this shard's load-generator health")


def write_shard_result(result: ShardResult, results_dir: Path) -> Path:
    """Write ``shard.json`` atomically."""
    path = results_dir / SHARD_FILE_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(result.model_dump_json() + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_shard_result(path: Path) -> ShardResult:
    """A shard's ``shard.json`` (a directory holding one, or the file); ``ConfigurationError`` naming it."""
    file = path / SHARD_FILE_NAME if path.is_dir() else path
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path} has no {SHARD_FILE_NAME}; give the results directories of "
                                 "'python -m perf_tests run --shard I/N' runs") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigurationError(f"{file} cannot be read as JSON ({str(exc)[:200]})") from None
    try:
        return ShardResult.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part)[:60] for part in error["loc"]) or "(file)"
        raise ConfigurationError(f"{file} is not a perf-tests {SHARD_FILE_NAME}: field {where!r}: {error['msg']}"
                                 ) from None
