"""Shared field types: finite numbers in every options model, file names the file system can hold,
pipeline parameters kfp can serialise, and bounded echoes of user values in errors."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from perf_tests.errors import echo, echo_json
from perf_tests.llm.results.recording import entry_results_dir
from perf_tests.models.fields import (
    MAX_NAME_BYTES,
    MAX_PARAMS_DEPTH,
    check_file_name,
    check_json_value,
)
from perf_tests.models.scenario import MAX_NAME_LENGTH, EntryFiles
from perf_tests.runners.registry import options_models

REPO = Path(__file__).resolve().parents[3]
PIPELINE = REPO / "test_data" / "pipeline_files" / "add_numbers.yaml"



def _nested_models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> None:
    if model.__name__ in seen:
        return
    seen[model.__name__] = model

    def visit(annotation: object) -> None:
        for argument in typing.get_args(annotation):
            visit(argument)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _nested_models(annotation, seen)

    for info in model.model_fields.values():
        visit(info.annotation)


def _all_options_models() -> dict[str, type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for model in options_models().values():
        _nested_models(model, seen)
    return seen


@pytest.mark.parametrize("name", sorted(_all_options_models()))
def test_every_options_model_rejects_nan_and_infinity(name):
    """Every model a scenario entry validates into, nested ones included, treats NaN/Infinity as errors."""
    model = _all_options_models()[name]
    # OptionsModel, or (for a model of a package that must not import the scenario models) the same config.
    assert model.model_config.get("allow_inf_nan") is False, f"{name} should derive from OptionsModel"
    assert model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", ["x" * MAX_NAME_BYTES, "a/" + "é" * (MAX_NAME_BYTES // 2), "~/pipelines/p.yaml"])
def test_file_names_the_file_system_can_hold_pass(name):
    assert check_file_name(name) == name


@pytest.mark.parametrize(("name", "message"), [
    ("x" * (MAX_NAME_BYTES + 1), "is 256 bytes long; a file or folder name can have at most 255 bytes"),
    ("dir/" + "é" * 128 + ".yaml", "is 261 bytes long"),
    ("/".join(["d" * 200] * 21), "is longer than 4096 bytes"),
    ("~nosuchuser/p.yaml", "user 'nosuchuser' has no home directory here; write the path out"),
    ("a\x00b.yaml", "a file name cannot hold a NUL character"),
])
def test_file_names_the_file_system_cannot_hold_are_named(name, message):
    with pytest.raises(ValueError) as info:  # noqa: PT011 - the message is checked below
        check_file_name(name)
    assert message in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("name", ["x" * 300 + ".yaml", "~nosuchuser/p.yaml", "a\x00b.yaml", "/".join(["d" * 200] * 25)])
def test_entry_files_never_raise_for_names_the_file_system_rejects(name, tmp_path):
    files = EntryFiles(tmp_path / "scenario.json", tmp_path)
    assert files.find(name, "pipeline_files") is None
    assert files.find_dir(name, "llm") is None
    assert files.candidates(name, "pipeline_files")


def _nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def test_params_at_the_depth_limit_reach_the_server_and_one_level_more_is_refused(kfp_client):
    params = {"a": _nested(MAX_PARAMS_DEPTH - 1)}  # the object is level 1, the innermost 1 is level 32
    check_json_value(params)
    run = kfp_client.create_run_from_pipeline_package(str(PIPELINE), arguments=params,
                                                      run_name="deepest-params")
    assert kfp_client.get_run(run.run_id).runtime_config.parameters == params
    with pytest.raises(ValueError, match=f"nested more than {MAX_PARAMS_DEPTH} levels deep"):
        check_json_value({"a": _nested(MAX_PARAMS_DEPTH)})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_params_hold_only_json_numbers(value):
    with pytest.raises(ValueError, match="is not a JSON number"):
        check_json_value({"a": {"b": [1, value]}})


def test_echo_cuts_long_values_and_says_how_long_they_were():
    assert echo("short") == "'short'"
    assert echo("x" * 100_000) == f"{'x' * 60!r}... (100000 characters)"
    assert echo_json(["y" * 1000], limit=10) == '["yyyyyyyy... (1004 characters)'
    assert echo_json(float("nan")) == "NaN"


@pytest.mark.parametrize("char", ["n", "é", "\u4e2d", "-"])
def test_the_longest_entry_name_makes_a_folder_the_file_system_can_hold(char, tmp_path):
    """Entry names become folder names in the results directory (an LLM_LOAD entry's files)."""
    folder = entry_results_dir(tmp_path, f"~user/{char * MAX_NAME_LENGTH}"[:MAX_NAME_LENGTH])
    folder.mkdir()
    (folder / "guidellm.json").write_text("{}", encoding="utf-8")
    assert folder.parent == tmp_path
