"""The scenario-file JSON Schema is generated from the options models the loader validates with: the
published file equals the generated schema, and every shipped scenario passes both the schema and the
loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from perf_tests.errors import ScenarioError
from perf_tests.models.scenario import PipelineEntry
from perf_tests.models.scenario_file import SCENARIO_SCHEMA_FILE, load_scenario, scenario_json_schema
from perf_tests.runners.registry import BUILTIN_MODULES, options_models, registered_runners

REPO = Path(__file__).resolve().parents[3]
DATA_DIR = REPO / "test_data"
SHIPPED = sorted((DATA_DIR / "scenarios").glob("*.json"))
REGENERATE = "python -m perf_tests schema -o perf_tests/models/schemas/scenario.schema.json"


def _builtin_schema() -> dict:
    options_models()  # load the built-in modes
    builtin = {mode: runner.options_model for mode, runner in registered_runners().items()
               if runner.__module__ in BUILTIN_MODULES}
    return scenario_json_schema(builtin)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = _builtin_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_published_schema_is_the_generated_one():
    published = json.loads(SCENARIO_SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == _builtin_schema(), f"the published schema is stale; run {REGENERATE}"


def test_every_mode_is_in_the_schema():
    schema = _builtin_schema()
    assert set(schema["anyOf"][0]["items"]["discriminator"]["mapping"]) >= {
        "PIPELINE_RUN", "EXPERIMENT", "PIPELINE_UPLOAD", "PIPELINE_SCHEDULED_RUN", "RANDOM_GETS", "LLM_LOAD"}


def test_there_are_shipped_scenarios_with_a_matrix():
    assert len(SHIPPED) >= 5
    assert any("matrix" in path.read_text(encoding="utf-8") for path in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=[path.name for path in SHIPPED])
def test_every_shipped_scenario_passes_the_schema_and_the_loader(path, validator):
    document = json.loads(path.read_text(encoding="utf-8"))
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert problems == []
    assert load_scenario(path, options_models(), DATA_DIR).entries


GRID = {"mode": "PIPELINE_RUN", "name": "grid", "startTime": 0, "runTime": 1}


@pytest.mark.parametrize("matrix", [
    {"numTimes": [1, 2]},
    {"numTimes": [1, 2], "params": [{"a": 1}, {"a": 2}]},
    None,
])
def test_the_schema_accepts_a_matrix_the_loader_accepts(validator, matrix, tmp_path):
    entry = {**GRID, "matrix": matrix, "matrixStagger": "10s"} if matrix else {**GRID, "matrix": None}
    assert validator.is_valid([entry])
    path = tmp_path / "grid.json"
    path.write_text(json.dumps([entry]), encoding="utf-8")
    assert load_scenario(path, options_models(), DATA_DIR).entries


@pytest.mark.parametrize("matrix", [
    {"startTime": [0, 1]},  # a fixed field
    {"rate": [1, 2]},  # not a field of PIPELINE_RUN
    {"numTimes": []},  # no values
    {"numTimes": ["many"]},  # a value of the wrong type
    {},  # no factors
    [1, 2],  # not an object
])
def test_the_schema_rejects_a_matrix_the_loader_rejects(validator, matrix, tmp_path):
    entry = {**GRID, "matrix": matrix}
    assert not validator.is_valid([entry])
    path = tmp_path / "grid.json"
    path.write_text(json.dumps([entry]), encoding="utf-8")
    with pytest.raises(ScenarioError, match="entry 0 "):
        load_scenario(path, options_models(), DATA_DIR)


def test_resolved_paths_are_not_part_of_the_public_schema(tmp_path):
    """``pipelinePath`` and ``pipelineRunTemplatePath`` are found by the loader, never given in a file."""
    text = json.dumps(_builtin_schema())
    assert "pipelinePath" not in text
    assert "pipelineRunTemplatePath" not in text
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps([{"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1,
                                     "pipelinePath": "/etc/passwd"}]), encoding="utf-8")
    with pytest.raises(ScenarioError, match="field 'pipelinePath' is not allowed for mode PIPELINE_RUN"):
        load_scenario(str(scenario), options_models(), DATA_DIR)
    entry = load_scenario("smoke.json", options_models(), DATA_DIR).entries[0]
    assert isinstance(entry, PipelineEntry)
    assert entry.pipeline_path is not None and entry.pipeline_path.is_file()  # resolved all the same
