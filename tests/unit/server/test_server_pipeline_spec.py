"""Reading pipeline packages: YAML, JSON, archives; validation; task order."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from perf_tests.server.errors import ApiError
from perf_tests.server.pipeline_spec import load_package, spec_from_object

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"


def test_compiled_yaml_gives_name_and_ordered_tasks() -> None:
    spec = load_package(PIPELINE.read_bytes(), "add_numbers.yaml")
    assert spec.name == "add-numbers"
    assert spec.task_names == ("add-a-b", "double", "add-b-again")
    assert json.loads(spec.json_text) == yaml.safe_load(PIPELINE.read_text())
    assert len(spec.digest) == 64


def test_archives_and_json_give_the_same_spec() -> None:
    data = PIPELINE.read_bytes()
    reference = load_package(data, "p.yaml")
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("pipeline.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    zip_buffer = io.BytesIO()
    with zipfile.ZipFile(zip_buffer, "w") as archive:
        archive.writestr("nested/one.yaml", data)
    as_json = json.dumps(yaml.safe_load(data)).encode()
    for content, name in ((tar_buffer.getvalue(), "p.tgz"), (zip_buffer.getvalue(), "p.zip"), (as_json, "p.json")):
        assert load_package(content, name).digest == reference.digest


def test_platform_spec_document_is_kept() -> None:
    text = PIPELINE.read_text() + "---\nplatforms:\n  kubernetes: {}\n"
    spec = load_package(text.encode(), "p.yaml")
    assert set(json.loads(spec.json_text)) == {"pipeline_spec", "platform_spec"}


def test_run_body_spec_and_wrapper() -> None:
    document = yaml.safe_load(PIPELINE.read_text())
    assert spec_from_object(document).task_names == ("add-a-b", "double", "add-b-again")
    wrapped = spec_from_object({"pipeline_spec": document, "platform_spec": {"platforms": {}}})
    assert json.loads(wrapped.json_text)["platform_spec"] == {"platforms": {}}


def test_dependencies_order_tasks_and_single_component_pipelines() -> None:
    spec = {
        "pipelineInfo": {"name": "p"},
        "root": {"dag": {"tasks": {"last": {"dependentTasks": ["first"]}, "first": {}}}},
    }
    assert spec_from_object(spec).task_names == ("first", "last")
    single = {"pipelineInfo": {"name": "solo"}, "root": {"executorLabel": "exec"}}
    assert spec_from_object(single).task_names == ("solo",)
    cyclic = {
        "pipelineInfo": {"name": "p"},
        "root": {"dag": {"tasks": {"a": {"dependentTasks": ["b"]}, "b": {"dependentTasks": ["a"]}}}},
    }
    assert set(spec_from_object(cyclic).task_names) == {"a", "b"}


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        "text",
        {},
        {"pipelineInfo": {}},
        {"pipelineInfo": {"name": "p"}},
        {"pipelineInfo": {"name": "p"}, "root": {}},
        {"pipelineInfo": {"name": "p"}, "root": {"dag": {"tasks": []}}},
        {"kind": "Workflow"},
    ],
)
def test_invalid_specs(value: object) -> None:
    with pytest.raises(ApiError) as caught:
        spec_from_object(value)
    assert caught.value.http_status == 400
