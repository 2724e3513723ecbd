"""The executor registry: executors register under their name and carry their own options model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import Field

from perf_tests.errors import ScenarioError
from perf_tests.llm.executors import EXECUTORS, ExecutorOptions
from perf_tests.llm.executors.local import LocalExecutor
from perf_tests.llm.executors.tekton import TektonExecutor
from perf_tests.llm.executors.tekton_options import TektonExecutorOptions
from perf_tests.llm.options import LlmLoadFields
from perf_tests.models.scenario_file import build_scenario, scenario_json_schema
from perf_tests.runners.registry import options_models

ENTRY = {"mode": "LLM_LOAD", "startTime": 0, "runTime": 1, "rateType": "synchronous"}


class _NeedsTargetOptions(ExecutorOptions):
    """A plugin executor's own entry field, and its check of the entry."""

    region: str | None = Field(default=None, description="Where the remote-test executor runs.")

    def executor_problems(self, entry: LlmLoadFields) -> None:
        if entry.target_url is None:
            raise ValueError('executor "remote-test" needs targetUrl')


class _RemoteExecutor(LocalExecutor):
    name = "remote-test"
    options_model = _NeedsTargetOptions


@pytest.fixture
def remote() -> Iterator[type[_RemoteExecutor]]:
    EXECUTORS.include(_RemoteExecutor)
    yield _RemoteExecutor
    EXECUTORS.remove(_RemoteExecutor.name)


def _load(entry: dict[str, Any], tmp_path) -> LlmLoadFields:
    [loaded] = build_scenario([entry], options_models(), tmp_path).entries
    assert isinstance(loaded, LlmLoadFields)
    return loaded


def test_built_in_executors_register_under_their_names_with_their_options_models() -> None:
    assert EXECUTORS.get("local") is LocalExecutor
    assert EXECUTORS.get("tekton") is TektonExecutor
    assert TektonExecutor.options_model is TektonExecutorOptions
    assert LocalExecutor.options_model is ExecutorOptions
    assert not issubclass(LlmLoadFields, TektonExecutorOptions)  # composed, not inherited


def test_the_tekton_fields_are_the_tekton_executors_own(tmp_path) -> None:
    entry = _load({**ENTRY, "executor": "tekton", "targetUrl": "http://m:8000", "keepPipelineRuns": True}, tmp_path)
    options = entry.executor_options_as(TektonExecutorOptions)
    assert (options.keep_pipeline_runs, options.pipeline_run_template) == (True, None)
    assert not {"keepPipelineRuns", "keep_pipeline_runs"} & set(LlmLoadFields.model_fields)
    dumped = entry.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["keepPipelineRuns"] is True and "pipelineRunTemplate" not in dumped  # flat, as given
    local = _load(ENTRY, tmp_path)
    assert type(local.executor_options) is ExecutorOptions
    with pytest.raises(TypeError, match="not TektonExecutorOptions"):
        local.executor_options_as(TektonExecutorOptions)


def test_a_registered_executor_is_accepted_and_checks_the_entry_itself(remote, tmp_path) -> None:
    entry = _load({**ENTRY, "executor": "remote-test", "targetUrl": "http://model:8000"}, tmp_path)
    assert type(entry.executor_options) is _NeedsTargetOptions
    with pytest.raises(ScenarioError, match='executor "remote-test" needs targetUrl'):
        _load({**ENTRY, "executor": "remote-test"}, tmp_path)


def test_another_executors_fields_name_that_executor(remote, tmp_path) -> None:
    with pytest.raises(ScenarioError, match='pipelineRunTemplate apply only to "executor": "tekton"'):
        _load({**ENTRY, "executor": "remote-test", "targetUrl": "http://m:8000", "pipelineRunTemplate": "t.yaml"},
              tmp_path)


def test_an_unknown_executor_lists_the_registered_ones(remote, tmp_path) -> None:
    with pytest.raises(ScenarioError, match="unknown executor 'cloud'; available: local, remote-test, tekton"):
        _load({**ENTRY, "executor": "cloud"}, tmp_path)


def test_a_plugin_executor_adds_its_own_fields_to_the_entry(remote, tmp_path) -> None:
    entry = _load({**ENTRY, "executor": "remote-test", "targetUrl": "http://m:8000", "region": "eu-1"}, tmp_path)
    assert entry.executor_options_as(_NeedsTargetOptions).region == "eu-1"
    assert entry.model_dump(by_alias=True)["region"] == "eu-1"
    with pytest.raises(ScenarioError, match='region apply only to "executor": "remote-test"'):
        _load({**ENTRY, "region": "eu-1"}, tmp_path)
    with pytest.raises(ScenarioError, match="field 'region': Input should be a valid string"):
        _load({**ENTRY, "executor": "remote-test", "targetUrl": "http://m:8000", "region": 5}, tmp_path)
    schema = scenario_json_schema({"LLM_LOAD": options_models()["LLM_LOAD"]})
    properties = schema["anyOf"][0]["items"]["properties"]  # one mode: the entry itself, no union
    assert properties["region"]["description"] == "Where the remote-test executor runs."
    assert "keepPipelineRuns" in properties


def test_an_unknown_field_lists_the_executors_fields_as_allowed(remote, tmp_path) -> None:
    with pytest.raises(ScenarioError, match=r"allowed fields: .*keepPipelineRuns.*region"):
        _load({**ENTRY, "regoin": "eu-1"}, tmp_path)
