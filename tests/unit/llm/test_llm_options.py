"""LLM_LOAD entries validate at load: fields, combinations, files and matrix factors, with messages that
name the field (or factor) and say what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perf_tests.errors import ScenarioError
from perf_tests.models.scenario_file import build_scenario, load_scenario
from perf_tests.runners.llm_load import LlmLoadOptions
from perf_tests.runners.registry import options_models

DATA_DIR = Path(__file__).resolve().parents[3] / "test_data"
BASE: dict[str, Any] = {"mode": "LLM_LOAD", "startTime": 0, "runTime": "10s"}


def load(*entries: dict[str, Any], path: Path | None = None) -> list[LlmLoadOptions]:
    scenario = build_scenario([{**BASE, **entry} for entry in entries], options_models(), DATA_DIR, path)
    result = []
    for entry in scenario.entries:
        assert isinstance(entry, LlmLoadOptions)
        result.append(entry)
    return result


def problem(entry: dict[str, Any], path: Path | None = None) -> str:
    with pytest.raises(ScenarioError) as info:
        load(entry, path=path)
    return str(info.value)


def test_defaults_and_registry() -> None:
    [entry] = load({"rate": 5})
    assert entry.mode == "LLM_LOAD"
    assert entry.executor == "local"
    assert entry.rate_type == "constant"
    assert entry.uses_mock
    assert entry.synthetic
    assert (entry.effective_prompt_tokens, entry.effective_output_tokens) == (128, 64)
    assert {"ttft", "itl", "tpot", "request_latency", "request_scheduled_latency", "requests",
            "llm_request"} <= set(LlmLoadOptions.operations)
    assert LlmLoadOptions.model_fields["target_url"].alias == "targetUrl"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"rateType": "throughput", "rate": 3}, "field 'rate': rateType throughput takes no rate"),
        ({"rateType": "concurrent", "rate": 2.5}, "field 'rate': rateType concurrent takes the number"),
        ({"rateType": "concurrent"}, "rateType concurrent needs 'rate'"),
        ({"rateType": "constant"}, "rateType constant needs 'rate' (requests per second) or 'stages'"),
        ({"rateType": "sweep", "rate": 1}, "field 'rate': rateType sweep takes the number of benchmarks"),
        ({"rateType": "bursty", "rate": 1}, "field 'rateType'"),
        ({"rate": 1, "maxSeconds": "20s"}, "field 'maxSeconds': 20s is longer than runTime (10s)"),
        ({"rateType": "synchronous", "maxConcurrency": 4}, "field 'maxConcurrency': does not apply"),
        ({"rate": 1, "targetUrl": "ftp://host"}, "field 'targetUrl': 'ftp://host' is not an http(s) URL"),
        ({"rate": 1, "targetUrl": "http://host:8000/v1"}, "without /v1"),
        ({"rate": 1, "targetUrl": "http://host:99999"}, "invalid port"),
        ({"rate": 1, "executor": "ssh"}, "field 'executor': unknown executor 'ssh'; available: local"),
        ({"rate": 1, "extraArgs": ["--backend", "kind=x"]}, "field 'extraArgs': --backend is set by the framework"),
        ({"rate": 1, "extraArgs": ["--profile=kind=sweep"]}, "--profile is set by the framework"),
        ({"rate": 1, "backendOptions": {"target": "http://x"}}, "'target' is set by the framework"),
        ({"rate": 1, "targetUrl": "http://h:1", "mockServer": {"ttftMs": 5}}, "mockServer applies only"),
        ({"rate": 1, "mockServer": {"ttftMs": -1}}, "field 'mockServer.ttftMs'"),
        ({"rate": 1, "promptTokens": 0}, "field 'promptTokens'"),
        ({"rate": 1, "bogus": 1}, "field 'bogus' is not allowed for mode LLM_LOAD"),
        ({"rate": 1, "dataPath": "/etc/passwd"}, "field 'dataPath' is not allowed"),
    ],
)
def test_field_errors_name_the_field(fields: dict[str, Any], expected: str) -> None:
    assert expected in problem(fields)


def test_stages_set_run_time_and_check_their_combinations() -> None:
    scenario = build_scenario(
        [{"mode": "LLM_LOAD", "startTime": 0, "stages": [{"rate": 1, "duration": "10s"}, {"rate": 2, "duration": 5}]}],
        options_models(), DATA_DIR,
    )
    assert scenario.entries[0].run_time == 15.0
    assert "last 20s, longer than runTime (10s)" in problem({"stages": [{"rate": 1, "duration": "20s"}]})
    assert "give either 'rate' or 'stages'" in problem({"rate": 1, "stages": [{"rate": 1, "duration": "5s"}]})
    assert "stages need rateType constant or poisson" in problem(
        {"rateType": "concurrent", "rate": 2, "stages": [{"rate": 1, "duration": "5s"}]})
    assert "every step of 'stages' has rate 0" in problem({"stages": [{"rate": 0, "duration": "5s"}]})
    assert "a step's duration must be greater than 0" in problem({"stages": [{"rate": 1, "duration": 0}]})
    assert "do not combine with stages" in problem({"stages": [{"rate": 1, "duration": "5s"}], "maxRequests": 3})


def test_data_file_is_found_in_test_data_llm_and_checked() -> None:
    [entry] = load({"rate": 1, "dataFile": "prompts.jsonl"})
    assert entry.data_path == (DATA_DIR / "llm" / "prompts.jsonl").resolve()
    assert "field 'dataFile': data file 'missing.jsonl' not found" in problem({"rate": 1, "dataFile": "missing.jsonl"})
    assert "field 'dataFile': 'prompts.docx': unsupported file type" in problem({"rate": 1, "dataFile": "prompts.docx"})
    assert "either dataFile or promptTokens" in problem({"rate": 1, "dataFile": "prompts.jsonl", "promptTokens": 8})


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("numbers.json", "[1, 2, 3]", "has no rows of named fields; each row needs a prompt field"),
    ("rows.jsonl", '{"id": 1, "answer": "x"}\n', "no prompt field among id, answer"),
    ("table.csv", "a,b\n1,2\n", "no prompt field among a, b"),
    ("broken.jsonl", "{not json\n", "cannot be read as JSONL"),
])
def test_data_file_content_is_checked_at_load(tmp_path: Path, name: str, content: str, expected: str) -> None:
    """GuideLLM waits forever on a data file without a usable row; the loader says why instead."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert expected in problem({"rate": 1, "dataFile": str(path)})
    good = tmp_path / f"good{path.suffix}"
    good.write_text({".json": '[{"question": "hi"}]', ".jsonl": '{"prompt-0": "hi"}\n',
                     ".csv": "text,x\nhi,1\n"}[path.suffix], encoding="utf-8")
    load({"rate": 1, "dataFile": str(good)})


def test_tokenizer_folder_is_checked(tmp_path: Path) -> None:
    missing = problem({"rate": 1, "tokenizer": str(tmp_path / "nope")})
    assert "field 'tokenizer': tokenizer folder" in missing and "not found" in missing
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no tokenizer files" in problem({"rate": 1, "tokenizer": str(empty)})
    good = tmp_path / "tok"
    good.mkdir()
    (good / "tokenizer.json").write_text("{}", encoding="utf-8")
    [entry] = load({"rate": 1, "tokenizer": str(good)})
    assert entry.tokenizer_path == good.resolve()
    [hub] = load({"rate": 1, "tokenizer": "hf:org/name"})
    assert hub.tokenizer_path is None


def test_matrix_expands_llm_fields_and_errors_name_the_factor() -> None:
    entries = load({"name": "m", "rate": 1, "matrix": {"rate": [1, 2, 4], "promptTokens": [128, 512]}})
    assert [e.name for e in entries][:2] == ["m[rate=1,promptTokens=128]", "m[rate=1,promptTokens=512]"]
    assert [(e.rate, e.prompt_tokens, e.start_time) for e in entries][-1] == (4.0, 512, 50.0)
    message = problem({"name": "m", "rate": 1, "matrix": {"rate": [1, -2]}})
    assert "matrix factor 'rate'" in message
    assert "m[rate=-2]" in message
    assert "matrix factor 'promtTokens' is not allowed" in problem({"rate": 1, "matrix": {"promtTokens": [1]}})


@pytest.mark.parametrize("name", ["llm_stairs.json", "llm_wva_stairs.json", "llm_matrix.json"])
def test_shipped_scenarios_validate(name: str) -> None:
    scenario = load_scenario(name, options_models(), data_dir=DATA_DIR)
    assert scenario.entries
    assert all(entry.mode == "LLM_LOAD" for entry in scenario.entries)


def test_stairs_scenario_is_seed_003_scaled_to_seconds() -> None:
    scenario = load_scenario("llm_stairs.json", options_models(), data_dir=DATA_DIR)
    assert [(e.start_time, e.end_time) for e in scenario.entries] == [(0, 60), (10, 60), (20, 60), (30, 60)]
    full = load_scenario("llm_wva_stairs.json", options_models(), data_dir=DATA_DIR)
    assert [(e.start_time, e.end_time) for e in full.entries] == [(0, 3600), (600, 3600), (1200, 3600), (1800, 3600)]
    assert {getattr(e, "rate", None) for e in full.entries} == {0.5}


def test_entry_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{**BASE, "rate": 2, "mockServer": {"ttftMs": 10}}]), encoding="utf-8")
    [entry] = load_scenario(path, options_models(), data_dir=DATA_DIR).entries
    assert isinstance(entry, LlmLoadOptions)
    dumped = entry.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["mockServer"]["ttftMs"] == 10
    assert "dataPath" not in dumped and "tokenizerPath" not in dumped


@pytest.mark.parametrize(
    ("data", "prompt", "output"),
    [
        ("prompt_tokens=64,output_tokens=32", 64, 32),
        ("kind=synthetic_text,prompt_tokens=16", 16, None),
        ('{"prompt_tokens": 8, "output_tokens": 4}', 8, 4),
        ({"output_tokens": 12}, None, 12),
    ],
)
def test_guidellms_data_spelling_is_taken_as_prompt_and_output_tokens(
        data: Any, prompt: int | None, output: int | None) -> None:
    [entry] = load({"rate": 1, "data": data})
    assert (entry.prompt_tokens, entry.output_tokens, entry.data_file) == (prompt, output, None)
    assert "data" not in entry.model_dump(by_alias=True)  # the scenario as run shows the fields


def test_guidellms_data_naming_a_file_is_the_data_file() -> None:
    [entry] = load({"rate": 1, "data": "prompts.jsonl"})
    assert entry.data_file == "prompts.jsonl" and entry.data_path == DATA_DIR / "llm" / "prompts.jsonl"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"data": "prompt_tokens=64,prompt_tokens_stdev=4"},
         "'data' key 'prompt_tokens_stdev' is not supported; the entry takes prompt_tokens and output_tokens "
         "(or the fields promptTokens/outputTokens), or a data file (dataFile)"),
        ({"data": "prompt_tokens=64", "promptTokens": 32}, "give prompt_tokens either in 'data' or as promptTokens"),
        ({"data": "kind=json_file,path=x.jsonl"}, "give a data file as dataFile"),
        ({"data": "prompt_tokens=64", "dataFile": "prompts.jsonl"},
         "give either dataFile or promptTokens/outputTokens (synthetic data), not both"),
        ({"data": "prompts.jsonl", "dataFile": "prompts.jsonl"}, "give either 'data' or 'dataFile', not both"),
        ({"data": 5}, "'data' takes GuideLLM's form, e.g. \"prompt_tokens=64,output_tokens=32\", or a file name"),
        ({"data": "prompt_tokens=0"}, "field 'promptTokens'"),
    ],
)
def test_guidellms_data_spelling_errors_name_the_fields_to_use(fields: dict[str, Any], message: str) -> None:
    text = problem({"rate": 1, **fields})
    assert message in text, text
    assert "Traceback" not in text
