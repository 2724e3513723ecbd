"""deploy/tekton/harness: the manifests parse, kustomize renders them, RBAC is exactly the stack's calls, the
Pipeline composes the Tasks with a finally tear-down, tokenizing Tasks get HF_TOKEN, images are pinned."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.stack.kube_client import PERMISSIONS

REPO = Path(__file__).resolve().parents[3]
HARNESS = REPO / "deploy" / "tekton" / "harness"
HF_TOKEN = {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-secret", "key": "HF_TOKEN",
                                                              "optional": True}}}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def harness() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in HARNESS.glob("*.yaml"):
        if path.name == "kustomization.yaml":
            continue
        for doc in documents(path):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


@pytest.mark.parametrize("path", sorted(HARNESS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(HARNESS)))
def test_every_manifest_parses(path: Path) -> None:
    for doc in documents(path):
        assert doc.get("apiVersion") and doc.get("kind")


def test_kustomization_lists_every_resource() -> None:
    [kustomization] = documents(HARNESS / "kustomization.yaml")
    on_disk = {p.name for p in HARNESS.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (make system-deps)")
@pytest.mark.parametrize("folder", ["deploy/tekton", "deploy/tekton/harness"])
def test_kustomizations_render_with_kubectl(folder: str) -> None:
    rendered = subprocess.run(["kubectl", "kustomize", str(REPO / folder)], capture_output=True, text=True,
                              timeout=60, check=False)
    assert rendered.returncode == 0, rendered.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(rendered.stdout) if doc]
    assert kinds and "Task" in kinds
    if folder.endswith("harness"):
        assert {"Pipeline", "ClusterRole", "ClusterRoleBinding", "ServiceAccount"} <= set(kinds)


def test_cluster_role_grants_exactly_what_the_stack_calls() -> None:
    role = harness()[("ClusterRole", "perf-tests-stack")]
    granted = {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    called = {(p.api_group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    assert granted == called


def test_the_pipeline_composes_the_tasks_and_tears_down_in_finally() -> None:
    objects = harness()
    pipeline = objects[("Pipeline", "llm-stack-benchmark")]["spec"]
    tasks = {task["name"]: task for task in pipeline["tasks"]}
    assert list(tasks) == ["stack-up", "run-workload", "transform-results", "upload-results"]
    assert tasks["run-workload"]["taskRef"] == {"name": "guidellm-load-generator"}  # the existing Task
    target = {p["name"]: p["value"] for p in tasks["run-workload"]["params"]}["target-url"]
    assert target == "$(tasks.stack-up.results.url)"
    assert [task["taskRef"]["name"] for task in pipeline["finally"]] == ["stack-down"]
    for task in [*pipeline["tasks"], *pipeline["finally"]]:
        name = task["taskRef"]["name"]
        if name != "guidellm-load-generator":
            declared = {p["name"] for p in objects[("Task", name)]["spec"]["params"]}
            assert {p["name"] for p in task.get("params", [])} <= declared, name
    factors = {p["name"] for p in pipeline["params"]}
    assert {"replicas", "server-args", "model", "vllm-image"} <= factors  # deployment factors


def test_tasks_that_tokenize_mount_hf_token_from_the_optional_secret() -> None:
    objects = harness()
    [load_generator] = documents(REPO / "deploy" / "tekton" / "task-load-generator.yaml")
    [load] = [step for step in load_generator["spec"]["steps"] if step["name"] == "load"]  # the step running GuideLLM
    assert HF_TOKEN in load["env"]
    for task in (objects[("Task", "stack-benchmark")], objects[("Task", "transform-results")]):
        assert all(HF_TOKEN in step["env"] for step in task["spec"]["steps"]), task["metadata"]["name"]


def test_framework_tasks_run_the_framework_from_a_pinned_image() -> None:
    for (kind, name), task in harness().items():
        if kind != "Task":
            continue
        for step in task["spec"]["steps"]:
            image = {p["name"]: p.get("default", "") for p in task["spec"]["params"]}.get(
                step["image"].removeprefix("$(params.").removesuffix(")"), step["image"])
            assert re.search(r":[0-9][\w.-]*$|@sha256:[0-9a-f]{64}$", image), (name, image)
            if image.split("/")[-1].startswith("perf-tests"):
                assert "python -m perf_tests" in step["script"] and "stack" in step["script"], name
    assert "pip install" in (REPO / "Containerfile").read_text(encoding="utf-8")


def test_the_matrix_example_fans_out_over_a_deployment_factor() -> None:
    [run] = documents(HARNESS / "examples" / "pipelinerun-stack-matrix.yaml")
    [task] = run["spec"]["pipelineSpec"]["tasks"]
    assert task["taskRef"] == {"name": "stack-benchmark"}
    factors = {p["name"]: p["value"] for p in task["matrix"]["params"]}
    assert factors["replicas"] == ["1", "2"] and len(factors["server-args"]) == 2


def test_readme_documents_the_harness_and_the_stack_block() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for text in ("deploy/tekton/harness", "\"stack\"", "local-vllm", "stack up", "stack down", "llm_stack_local.json",
                 "stack.replicas"):
        assert text in readme, text
