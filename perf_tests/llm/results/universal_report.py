"""An LLM_LOAD entry's results as an llm-d *benchmark report* v0.2.1, the universal format of LLM serving
benchmarks (what llm-d-benchmark's ``transform_results_guidellm`` step produces).

``build_universal_report`` maps GuideLLM's numbers (``MergedLlmResults``) and the entry onto the report:
``run`` (uid, eid = the test run's id, start/end/duration), ``scenario.load`` (tool, version, data
source, sequence lengths, rate or concurrency, the native GuideLLM arguments) and
``results.request_performance.aggregate`` (request counts, TTFT/TPOT/ITL/request latency and the
throughput rates, each a Statistics object with units). ``write_universal_report`` writes it as
``benchmark_report.yaml`` and ``.json``. The schema is bundled (``schemas/``) and
``validate_universal_report`` checks a report against it when ``jsonschema`` is installed.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib
import json
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from perf_tests.llm.command import GuidellmCommand, reveal
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.results.merging import MergedLlmResults
from perf_tests.llm.results.parsing import Distribution
from perf_tests.logger.redaction import redact

__all__ = [
    "REPORT_FILE_STEM",
    "REPORT_VERSION",
    "SCHEMA_FILE",
    "build_universal_report",
    "statistics",
    "universal_report_schema",
    "validate_universal_report",
    "write_universal_report",
]

REPORT_VERSION = "0.2.1"
REPORT_FILE_STEM = "benchmark_report"
SCHEMA_FILE = "llm-d-benchmark-report-v0.2.1.schema.json"

_PERCENTILE_KEYS = {
    "p001": "p0p1", "p01": "p1", "p05": "p5", "p10": "p10", "p25": "p25", "p50": "p50",
    "p75": "p75", "p90": "p90", "p95": "p95", "p99": "p99", "p999": "p99p9",
}


def statistics(distribution: Distribution, units: str, factor: float = 1.0) -> dict[str, Any]:
    """A Statistics object (units, mean, stddev, min, max, percentiles) from a distribution."""
    stats: dict[str, Any] = {
        "units": units,
        "mean": distribution.mean * factor,
        "stddev": distribution.std_dev * factor,
        "min": distribution.min * factor,
        "max": distribution.max * factor,
    }
    for ours, theirs in _PERCENTILE_KEYS.items():
        value = distribution.percentile(ours)
        if value is not None:
            stats[theirs] = value * factor
    return stats


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name in some containers
        return None


def _sequence_length(configured: int | None, observed: Distribution | None) -> dict[str, Any] | None:
    if configured is not None:
        return {"distribution": "fixed", "value": configured}
    if observed is None:
        return None
    return {"distribution": "other", "value": round(observed.mean, 3), "min": max(0, int(observed.min)),
            "max": max(1, int(observed.max))}


def _native_args(commands: Sequence[GuidellmCommand]) -> dict[str, Any]:
    if len(commands) == 1:
        native: dict[str, Any] = {**reveal(commands[0].options, mask=True), "_argv": commands[0].shown_argv()}
    else:
        native = {"launches": [{**reveal(c.options, mask=True), "_argv": c.shown_argv()} for c in commands]}
    redacted: dict[str, Any] = json.loads(redact(json.dumps(native, default=str)))  # and anything echoed
    return redacted


def build_universal_report(
    entry: LlmLoadFields,
    results: MergedLlmResults,
    *,
    run_id: str,
    tool_version: str,
    commands: Sequence[GuidellmCommand],
    target: str,
    tool: str = "guidellm",
    stack: tuple[list[dict[str, Any]], dict[str, Any]] | None = None,
    parallelism: int | None = None,
) -> dict[str, Any]:
    """The llm-d benchmark report v0.2.1 of one entry's run by harness ``tool``; ``stack``: the deployed stack's
    ``scenario.stack`` and ``results.observability`` (``perf_tests.stack.record.universal_stack``);
    ``parallelism``: the load generator processes when not one per command (a merged scale-out run's)."""
    dists = results.distributions
    configured_in = entry.effective_prompt_tokens if entry.synthetic else None
    configured_out = entry.effective_output_tokens if entry.synthetic else None
    standardized: dict[str, Any] = {
        "tool": tool,
        "tool_version": tool_version,
        "parallelism": parallelism or max(1, len(commands)),
        "source": "random" if entry.synthetic else "sampled",
        "stage": 0,
        "input_seq_len": _sequence_length(configured_in, dists.get("prompt_tokens"))
        or {"distribution": "other", "value": 0},
    }
    output_len = _sequence_length(configured_out, dists.get("output_tokens"))
    if output_len is not None:
        standardized["output_seq_len"] = output_len
    if entry.rate_type in ("constant", "poisson"):
        rate = entry.rate if entry.stages is None else max(stage.rate for stage in entry.stages)
        if rate:
            standardized["rate_qps"] = rate
    elif entry.rate_type == "concurrent" and entry.rate is not None:
        standardized["concurrency"] = int(entry.rate)
    elif entry.rate_type == "synchronous":
        standardized["concurrency"] = 1
    elif entry.max_concurrency is not None:
        standardized["concurrency"] = entry.max_concurrency
    entry_config = entry.model_dump(mode="json", by_alias=True, exclude_none=True)
    native: dict[str, Any] = {
        "args": _native_args(commands),
        "envars": dict(commands[0].env) if commands else {},
        "config": entry_config,
    }
    cfg_id = hashlib.md5(  # an identifier of the configuration, not security
        json.dumps(native["args"], sort_keys=True, default=str).encode(), usedforsecurity=False
    ).hexdigest()

    latency: dict[str, Any] = {}
    for ours, theirs, units in (
        ("ttft", "time_to_first_token", "s"),
        ("tpot", "time_per_output_token", "s/token"),
        ("itl", "inter_token_latency", "s/token"),
        ("request_latency", "request_latency", "s"),
    ):
        if ours in dists:
            latency[theirs] = statistics(dists[ours], units, 0.001)
    requests: dict[str, Any] = {
        "total": results.total,
        "failures": results.errored,
        "incomplete": results.incomplete,
    }
    if "prompt_tokens" in dists:
        requests["input_length"] = statistics(dists["prompt_tokens"], "count")
    if "output_tokens" in dists:
        requests["output_length"] = statistics(dists["output_tokens"], "count")
    throughput = {
        "request_rate": {"units": "queries/s", "mean": results.request_rate},
        "output_token_rate": {"units": "tokens/s", "mean": results.output_token_rate},
        "input_token_rate": {"units": "tokens/s", "mean": results.prompt_token_rate},
        "total_token_rate": {"units": "tokens/s", "mean": results.prompt_token_rate + results.output_token_rate},
    }
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "run": {
            "uid": uuid.uuid4().hex,
            "eid": run_id,
            "pid": f"{socket.gethostname()}:{os.getpid()}",
            "time": {
                "start": _iso(results.start),
                "end": _iso(results.end),
                "duration": f"PT{results.duration:.3f}S",
            },
            "user": _user(),
            "description": f"perf-tests LLM_LOAD entry {entry.name!r} against {target}",
            "keywords": ["perf-tests", "LLM_LOAD", tool, entry.rate_type],
        },
        "scenario": {
            "load": {
                "metadata": {"schema_version": "0.0.1", "cfg_id": cfg_id, "description": entry.name},
                "standardized": standardized,
                "native": native,
            },
        },
        "results": {
            "request_performance": {
                "aggregate": {"requests": requests, "latency": latency, "throughput": throughput},
            },
        },
    }
    if stack is not None:
        report["scenario"]["stack"], report["results"]["observability"] = stack
    return report


def write_universal_report(report: Mapping[str, Any], directory: Path,
                           stem: str = REPORT_FILE_STEM) -> tuple[Path, Path]:
    """Write ``<stem>.yaml`` and ``<stem>.json`` in ``directory``; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    yaml_path = directory / f"{stem}.yaml"
    json_path = directory / f"{stem}.json"
    yaml_path.write_text(yaml.safe_dump(dict(report), sort_keys=False), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return yaml_path, json_path


@cache
def universal_report_schema() -> Mapping[str, Any]:
    """The bundled JSON Schema of the llm-d benchmark report v0.2.1."""
    text = resources.files("perf_tests.llm.results").joinpath(f"schemas/{SCHEMA_FILE}").read_text(encoding="utf-8")
    schema: Mapping[str, Any] = json.loads(text)
    return schema


def validate_universal_report(report: Mapping[str, Any]) -> list[str] | None:
    """Schema problems of ``report`` (empty when valid), or None when ``jsonschema`` is not installed."""
    try:  # a dev dependency: reports are still written without it
        jsonschema: Any = importlib.import_module("jsonschema")
    except ImportError:
        return None
    best_match = jsonschema.exceptions.best_match
    validator_class = jsonschema.validators.validator_for(universal_report_schema())
    validator = validator_class(universal_report_schema(), format_checker=validator_class.FORMAT_CHECKER)
    problems = []
    for error in sorted(validator.iter_errors(report), key=lambda e: [str(p) for p in e.absolute_path]):
        while error.context:  # an anyOf (mostly "X or null") failed: name the reason inside X
            relevant = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
            error = best_match(relevant or error.context)
        where = "/".join(str(part) for part in error.absolute_path) or "(report)"
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        problems.append(f"{where}: {message}")
    return problems
