"""The executor registry: executors register under their name and carry their own options model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from perf_tests.errors import ScenarioError
from perf_tests.llm.executors import EXECUTORS, ExecutorOptions
from perf_tests.llm.executors.local import LocalExecutor
from perf_tests.llm.executors.tekton import TektonExecutor
from perf_tests.llm.executors.tekton_options import TektonExecutorOptions
from perf_tests.llm.options import LlmLoadFields
from perf_tests.models.scenario_file import build_scenario
from perf_tests.runners.registry import options_models

ENTRY = {"mode": "LLM_LOAD", "startTime": 0, "runTime": 1, "rateType": "synchronous"}


class _NeedsTargetOptions(ExecutorOptions):
    @classmethod
    def executor_problems(cls, entry: LlmLoadFields) -> None:
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
    assert issubclass(LlmLoadFields, TektonExecutorOptions)  # its fields are flat in the entry


def test_a_registered_executor_is_accepted_and_checks_the_entry_itself(remote, tmp_path) -> None:
    entry = _load({**ENTRY, "executor": "remote-test", "targetUrl": "http://model:8000"}, tmp_path)
    assert entry.executor_options_model is _NeedsTargetOptions
    with pytest.raises(ScenarioError, match='executor "remote-test" needs targetUrl'):
        _load({**ENTRY, "executor": "remote-test"}, tmp_path)


def test_another_executors_fields_name_that_executor(remote, tmp_path) -> None:
    with pytest.raises(ScenarioError, match='pipelineRunTemplate apply only to "executor": "tekton"'):
        _load({**ENTRY, "executor": "remote-test", "targetUrl": "http://m:8000", "pipelineRunTemplate": "t.yaml"},
              tmp_path)


def test_an_unknown_executor_lists_the_registered_ones(remote, tmp_path) -> None:
    with pytest.raises(ScenarioError, match="unknown executor 'cloud'; available: local, remote-test, tekton"):
        _load({**ENTRY, "executor": "cloud"}, tmp_path)
