"""The llm-d benchmark report v0.2.1: built from GuideLLM's results and valid against its schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.llm.command import build_command
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.plan import plan_launches
from perf_tests.llm.results.merging import summarize
from perf_tests.llm.results.parsing import load_report
from perf_tests.llm.results.universal_report import (
    build_universal_report,
    universal_report_schema,
    validate_universal_report,
    write_universal_report,
)

ROOT = Path(__file__).resolve().parents[3]
REPORT = ROOT / "test_data" / "llm" / "guidellm_report_constant.json"
SHARED_SCHEMA = ROOT.parent / "shared" / "reference" / "llm-d-benchmark-report-v0.2.1.schema.json"


def entry(**fields: Any) -> LlmLoadFields:
    return LlmLoadFields.model_validate({"mode": "LLM_LOAD", "name": "u", "startTime": 0, "runTime": "8s", **fields})


def universal(the_entry: LlmLoadFields, reports: int = 1) -> dict[str, Any]:
    results = summarize([load_report(REPORT)] * reports)
    commands = [build_command(the_entry, launch, target_url="http://127.0.0.1:1", tokenizer="/tok",
                              output_path="/o.json") for launch in plan_launches(the_entry)]
    return build_universal_report(the_entry, results, run_id="run-42", tool_version="0.8.1", commands=commands,
                                  target="guidellm mock-server at http://127.0.0.1:1 (not a real model server)")


@pytest.mark.parametrize("fields", [
    {"rate": 5, "promptTokens": 32, "outputTokens": 16},
    {"rateType": "concurrent", "rate": 2},
    {"rateType": "synchronous"},
    {"rateType": "throughput", "maxConcurrency": 8},
    {"rate": 1, "dataFile": "prompts.jsonl"},
    {"stages": [{"rate": 1, "duration": "4s"}, {"rate": 2, "duration": "4s"}]},
])
def test_reports_validate_against_the_schema(fields: dict[str, Any]) -> None:
    the_entry = entry(**fields)
    doc = universal(the_entry, reports=2 if the_entry.stages else 1)
    assert validate_universal_report(doc) == []


def test_report_content() -> None:
    doc = universal(entry(rate=5, promptTokens=32, outputTokens=16))
    raw = json.loads(REPORT.read_text(encoding="utf-8"))["benchmarks"][0]["metrics"]
    assert doc["version"] == "0.2.1"
    assert doc["run"]["eid"] == "run-42" and len(doc["run"]["uid"]) == 32
    assert doc["run"]["time"]["duration"].startswith("PT") and doc["run"]["time"]["start"].endswith("Z")
    load = doc["scenario"]["load"]["standardized"]
    assert load["tool"] == "guidellm" and load["tool_version"] == "0.8.1" and load["source"] == "random"
    assert load["input_seq_len"] == {"distribution": "fixed", "value": 32}
    assert load["rate_qps"] == 5
    aggregate = doc["results"]["request_performance"]["aggregate"]
    assert aggregate["requests"]["total"] == raw["request_totals"]["total"]
    ttft = aggregate["latency"]["time_to_first_token"]
    assert ttft["units"] == "s"
    assert ttft["p50"] == pytest.approx(raw["time_to_first_token_ms"]["successful"]["percentiles"]["p50"] / 1000)
    assert aggregate["latency"]["inter_token_latency"]["units"] == "s/token"
    assert aggregate["throughput"]["request_rate"] == {
        "units": "queries/s", "mean": pytest.approx(raw["requests_per_second"]["successful"]["mean"])}
    assert doc["scenario"]["load"]["native"]["args"]["_argv"][:2] == ["guidellm", "run"]


def test_stages_report_parallel_layers_and_peak_rate() -> None:
    doc = universal(entry(stages=[{"rate": 1, "duration": "4s"}, {"rate": 3, "duration": "4s"}]), reports=2)
    load = doc["scenario"]["load"]
    assert load["standardized"]["parallelism"] == 2 and load["standardized"]["rate_qps"] == 3
    assert len(load["native"]["args"]["launches"]) == 2


def test_written_yaml_and_json_agree_and_validate(tmp_path: Path) -> None:
    doc = universal(entry(rate=5))
    yaml_path, json_path = write_universal_report(doc, tmp_path)
    from_yaml = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    from_json = json.loads(json_path.read_text(encoding="utf-8"))
    assert from_yaml == from_json == doc
    assert validate_universal_report(from_yaml) == []


def test_schema_problems_are_named() -> None:
    doc = universal(entry(rate=5))
    doc["results"]["request_performance"]["aggregate"]["latency"]["request_latency"]["units"] = "sec"
    doc["run"]["extra"] = 1
    problems = validate_universal_report(doc)
    assert problems is not None
    assert any(p.startswith("results/request_performance/aggregate/latency/request_latency/units: 'sec'")
               for p in problems)
    assert any("'extra' was unexpected" in p for p in problems)


@pytest.mark.skipif(not SHARED_SCHEMA.is_file(), reason="the shared reference folder is not beside the repository")
def test_bundled_schema_is_the_reference_copy() -> None:
    assert universal_report_schema() == json.loads(SHARED_SCHEMA.read_text(encoding="utf-8"))
