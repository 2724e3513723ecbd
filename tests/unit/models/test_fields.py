"""Shared field types: finite numbers in every options model, file names the file system can hold,
pipeline parameters kfp can serialise, and bounded echoes of user values in errors."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

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


# Numbers passed through untouched to another program, checked finite only: GuideLLM's own --backend keys
# and the pipeline's arguments.
PASS_THROUGH_FIELDS = {"backend_options", "params"}


def _is_number(annotation: object) -> bool:
    if annotation is bool:
        return False
    if annotation in (int, float):
        return True
    return any(_is_number(argument) for argument in typing.get_args(annotation))


def _numeric_fields() -> list[tuple[str, str]]:
    fields = []
    for model_name, model in _all_options_models().items():
        for field_name, info in model.model_fields.items():
            if field_name not in PASS_THROUGH_FIELDS and not info.exclude and _is_number(info.annotation):
                fields.append((model_name, field_name))
    return sorted(fields)


def _huge(annotation: object) -> object:
    """A value far above any sane bound, of the field's own kind (an int for an int field)."""
    origin = typing.get_origin(annotation)
    if origin is dict:
        return {"list_runs": _huge(typing.get_args(annotation)[1])}
    arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation is int or (arguments and all(a is int for a in arguments)):
        return 10**19  # above a 64-bit seed, so every int field's bound is below it
    if arguments and not any(a in (int, float) for a in arguments):
        return _huge(arguments[0])  # Annotated[float, ...]: the first argument is the type
    return 1e300


def test_the_numeric_field_list_is_complete():
    names = {field for _, field in _numeric_fields()}
    assert {"rate", "max_lateness", "total_runs", "max_polls_per_second", "endpoints", "seed", "runs",
            "ramp_to", "max_requests", "ttft_ms_std", "start_time", "run_time"} <= names  # fmt: skip


@pytest.mark.parametrize(("model_name", "field_name"), _numeric_fields())
def test_every_numeric_field_has_an_upper_bound(model_name, field_name):
    """1e300 (or 10**19 for an integer) is an error at that very field, in every options model."""
    model = _all_options_models()[model_name]
    info = model.model_fields[field_name]
    alias = info.alias or field_name
    with pytest.raises(ValidationError) as raised:
        model.model_validate({alias: _huge(info.annotation)})
    here = [err for err in raised.value.errors() if err["loc"] and err["loc"][0] == alias]
    assert here, f"{model_name}.{alias} accepts {_huge(info.annotation)!r}"
    assert all(err["type"] != "missing" for err in here)


def _numbers_in(schema: object, path: str = "") -> list[tuple[str, dict]]:
    found = []
    if isinstance(schema, dict):
        if schema.get("type") in ("number", "integer"):
            found.append((path, schema))
        for key, value in schema.items():
            found += _numbers_in(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _numbers_in(value, f"{path}/{index}")
    return found


def test_every_number_in_the_published_schema_has_a_maximum():
    """Editors show the same bounds the loader applies (the schema is generated from the models)."""
    from perf_tests.models.scenario_file import SCENARIO_SCHEMA_FILE

    schema = json.loads(Path(SCENARIO_SCHEMA_FILE).read_text(encoding="utf-8"))
    unbounded = [path for path, node in _numbers_in(schema)
                 if "maximum" not in node and "exclusiveMaximum" not in node
                 and not any(f"/{name}/" in path for name in ("backendOptions", "params"))]  # fmt: skip
    assert unbounded == []
