"""The shipped Tekton scenarios load, and plan what deploy/tekton/examples shows."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from perf_tests.errors import ScenarioError
from perf_tests.llm.executors.tekton import command_for, task_params
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.plan import plan_launches
from perf_tests.models.scenario_file import load_scenario
from perf_tests.runners.registry import options_models

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "test_data"
STAIR_STEP = ROOT / "deploy" / "tekton" / "examples" / "pipelinerun-stair-step.yaml"


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "scenarios").glob("llm_tekton*.json")))
def test_scenario_loads_with_the_tekton_executor(name: str) -> None:
    scenario = load_scenario(name, options_models(), DATA)
    assert scenario.entries
    for entry in scenario.entries:
        assert isinstance(entry, LlmLoadFields)
        assert entry.executor == "tekton"


def test_stair_step_scenario_plans_the_example_pipelinerun() -> None:
    [entry] = load_scenario("llm_tekton_stair_step.json", options_models(), DATA).entries
    assert isinstance(entry, LlmLoadFields)
    planned = [task_params(entry, launch, command_for(entry, launch)) for launch in plan_launches(entry)]
    [example] = yaml.safe_load_all(STAIR_STEP.read_text())
    shown = [{p["name"]: p["value"] for p in task["params"]} for task in example["spec"]["pipelineSpec"]["tasks"]]
    for ours, theirs in zip(planned, shown, strict=True):
        assert float(ours["start-delay"]) == float(theirs["start-delay"])
        assert float(ours["max-seconds"]) == float(theirs["max-seconds"])
        assert float(ours["rate"]) == float(theirs["rate"])
        assert (ours["prompt-tokens"], ours["output-tokens"]) == (theirs["prompt-tokens"], theirs["output-tokens"])


def test_matrix_scenario_expands() -> None:
    entries = load_scenario("llm_tekton_matrix.json", options_models(), DATA).entries
    assert len(entries) == 6


def test_a_laptop_file_is_refused_at_load(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.json"
    scenario.write_text('[{"mode": "LLM_LOAD", "executor": "tekton", "startTime": 0, "runTime": 1, '
                        '"rateType": "synchronous"}]')  # fmt: skip
    with pytest.raises(ScenarioError, match='executor "tekton" needs targetUrl'):
        load_scenario(str(scenario), options_models(), DATA)


def test_tekton_fields_need_the_tekton_executor(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.json"
    scenario.write_text('[{"mode": "LLM_LOAD", "startTime": 0, "runTime": 1, "rateType": "synchronous", '
                        '"keepPipelineRuns": true}]')  # fmt: skip
    with pytest.raises(ScenarioError, match='keepPipelineRuns apply only to "executor": "tekton"'):
        load_scenario(str(scenario), options_models(), DATA)


def test_template_must_exist(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.json"
    scenario.write_text('[{"mode": "LLM_LOAD", "executor": "tekton", "startTime": 0, "runTime": 1, '
                        '"rateType": "synchronous", "targetUrl": "http://m:8000", '
                        '"pipelineRunTemplate": "nope.yaml"}]')  # fmt: skip
    with pytest.raises(ScenarioError, match=r"field 'pipelineRunTemplate': file 'nope\.yaml' not found"):
        load_scenario(str(scenario), options_models(), DATA)
