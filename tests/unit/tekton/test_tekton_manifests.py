"""deploy/tekton: every manifest parses, kustomize lists them, RBAC matches the client, the Task fits the runner."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.tekton.client import PERMISSIONS
from perf_tests.tekton.pipelinerun import TASK_RESULTS

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "tekton"
EXAMPLES = DEPLOY / "examples"
ALL_YAML = sorted(DEPLOY.rglob("*.yaml"))
# The Task's params seed 000 documents; they keep their names.
SEED_PARAMS = {
    "target-url",
    "model",
    "rate-type",
    "rate",
    "max-seconds",
    "max-requests",
    "max-concurrency",
    "output-basename",
}
RUNNER_PARAMS = SEED_PARAMS | {
    "prompt-tokens",
    "output-tokens",
    "data",
    "data-path",
    "tokenizer",
    "extra-args",
    "start-delay",
    "image",
    "backend-options",
    "random-seed",
    "workers",
    "credentials-secret",
}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def task() -> dict[str, Any]:
    [found] = documents(DEPLOY / "task-load-generator.yaml")
    return found


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_manifest_parses_and_names_its_kind(path: Path) -> None:
    docs = documents(path)
    assert docs
    for doc in docs:
        assert doc.get("apiVersion")
        assert doc.get("kind")


def test_kustomization_lists_every_resource() -> None:
    [kustomization] = documents(DEPLOY / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk
    for doc in (d for name in listed for d in documents(DEPLOY / name)):
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "pipelines"


def test_role_grants_exactly_what_the_client_calls() -> None:
    role = next(doc for doc in documents(DEPLOY / "rbac.yaml") if doc["kind"] == "Role")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    needed = {(p.api_group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    assert granted == needed


def test_role_may_create_and_delete_secrets_but_never_read_them() -> None:
    role = next(doc for doc in documents(DEPLOY / "rbac.yaml") if doc["kind"] == "Role")
    verbs = {verb for rule in role["rules"] if "secrets" in rule["resources"] for verb in rule["verbs"]}
    assert verbs == {"create", "delete"}


def test_task_reads_secret_values_from_the_credentials_secret() -> None:
    """Secret values reach the load step through env valueFrom.secretKeyRef, never as a param value."""
    [load] = [step for step in task()["spec"]["steps"] if step["name"] == "load"]
    # (HF_TOKEN from the optional hf-secret is the cluster's, for a gated tokenizer: tests/unit/stack)
    [secret_env] = [item for item in load["env"] if "valueFrom" in item and item["name"] != "HF_TOKEN"]
    assert secret_env["valueFrom"] == {
        "secretKeyRef": {"name": "$(params.credentials-secret)", "key": "backend-options", "optional": True}
    }
    default = {p["name"]: p for p in task()["spec"]["params"]}["credentials-secret"]["default"]
    assert re.fullmatch(r"[a-z0-9-]+", default), "secretKeyRef.name must be a valid name even when unused"


def test_role_binding_binds_the_service_account() -> None:
    docs = {doc["kind"]: doc for doc in documents(DEPLOY / "rbac.yaml")}
    binding = docs["RoleBinding"]
    assert binding["roleRef"]["name"] == docs["Role"]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": docs["ServiceAccount"]["metadata"]["name"], "namespace": "pipelines"}
    ]


def test_task_params_and_results() -> None:
    spec = task()["spec"]
    params = {p["name"]: p for p in spec["params"]}
    assert set(params) == RUNNER_PARAMS
    assert [name for name, p in params.items() if "default" not in p] == ["target-url"]
    assert all(p["type"] == "string" for p in params.values())
    assert [r["name"] for r in spec["results"]] == list(TASK_RESULTS)
    assert [w["name"] for w in spec["workspaces"]] == ["results"]


def test_task_image_is_pinned() -> None:
    image = {p["name"]: p for p in task()["spec"]["params"]}["image"]["default"]
    assert re.fullmatch(r"ghcr\.io/vllm-project/guidellm:v0\.8\.\d+", image), image
    for step in task()["spec"]["steps"]:
        assert step["image"] == "$(params.image)"


def test_task_uses_only_declared_params_and_results() -> None:
    spec = task()["spec"]
    text = yaml.safe_dump(spec["steps"])
    params = {p["name"] for p in spec["params"]}
    results = {r["name"] for r in spec["results"]}
    assert set(re.findall(r"\$\(params\.([a-z0-9-]+)\)", text)) == params
    assert set(re.findall(r"\$\(results\.([a-z0-9-]+)\.path\)", text)) == results
    for step in spec["steps"]:
        assert "$(params." not in step["script"], "params reach scripts through env, never through the text"


def test_task_never_builds_the_old_command_line() -> None:
    text = (DEPLOY / "task-load-generator.yaml").read_text()
    assert "benchmark run" not in text
    assert "--rate-type" not in text


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_reference_the_task_correctly(path: Path) -> None:
    declared = {p["name"] for p in task()["spec"]["params"]}
    [run] = documents(path)
    assert run["apiVersion"] == "tekton.dev/v1"
    assert run["kind"] == "PipelineRun"
    assert run["metadata"]["generateName"]
    assert run["spec"]["timeouts"]["pipeline"]
    given = {p["name"] for p in run["spec"]["params"]}
    assert given == {p["name"] for p in run["spec"]["pipelineSpec"]["params"]}
    for pipeline_task in run["spec"]["pipelineSpec"]["tasks"]:
        ref = pipeline_task["taskRef"]
        assert ref["resolver"] == "cluster"
        assert {p["name"]: p["value"] for p in ref["params"]} == {
            "kind": "task",
            "name": "guidellm-load-generator",
            "namespace": "pipelines",
        }
        names = {p["name"] for p in pipeline_task["params"]}
        names |= {p["name"] for p in (pipeline_task.get("matrix") or {}).get("params", [])}
        assert names <= declared
        assert "target-url" in names


def test_stair_step_example_is_seed_003() -> None:
    """Four copies at 0.5 req/s starting at 0, 10, 20 and 30 minutes, all ending at minute 60."""
    [run] = documents(EXAMPLES / "pipelinerun-stair-step.yaml")
    copies = [{p["name"]: p["value"] for p in t["params"]} for t in run["spec"]["pipelineSpec"]["tasks"]]
    assert [float(c["start-delay"]) for c in copies] == [0, 600, 1200, 1800]
    assert {float(c["start-delay"]) + float(c["max-seconds"]) for c in copies} == {3600}
    assert {c["rate"] for c in copies} == {"0.5"}
    assert {(c["prompt-tokens"], c["output-tokens"]) for c in copies} == {("1024", "2048")}


def test_matrix_example_fans_out() -> None:
    [run] = documents(EXAMPLES / "pipelinerun-matrix.yaml")
    [load] = run["spec"]["pipelineSpec"]["tasks"]
    sizes = [len(p["value"]) for p in load["matrix"]["params"]]
    assert sizes == [3, 2]
    assert "emptyDir" in run["spec"]["workspaces"][0]


def test_readme_explains_deploying_and_running() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for needle in (
        "kubectl apply -k deploy/tekton --server-side",
        "KUBECONFIG",
        "TEKTON_NAMESPACE",
        '"executor": "tekton"',
        "rbac.yaml",
    ):
        assert needle in readme, needle
