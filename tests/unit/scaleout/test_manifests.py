"""deploy/scale-out: manifests parse, kustomizations list their files, RBAC matches the client, the shard and
merge commands are ones the CLI takes, and ``kubectl kustomize`` renders every kustomization in deploy/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.cli import _parser
from perf_tests.scaleout.kube import JOB_PERMISSIONS, shard_job

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
SCALE_OUT = DEPLOY / "scale-out"
KUSTOMIZATIONS = sorted(DEPLOY.rglob("kustomization.yaml"))
NOT_APPLIED = {"pipelinerun.yaml"}  # generateName: created with kubectl create -f


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def _one(path: Path, kind: str) -> dict[str, Any]:
    return next(doc for doc in documents(path) if doc["kind"] == kind)


def _expand(args: list[str], values: dict[str, str]) -> list[str]:
    return [re.sub(r"\$\(([^)]+)\)", lambda m: values.get(m.group(1), "x"), arg) for arg in args]


@pytest.mark.parametrize("path", sorted(SCALE_OUT.rglob("*.yaml")), ids=lambda p: str(p.relative_to(SCALE_OUT)))
def test_every_manifest_parses_and_names_its_kind(path: Path) -> None:
    for doc in documents(path):
        assert doc.get("apiVersion") and doc.get("kind")


@pytest.mark.parametrize("path", [p for p in KUSTOMIZATIONS if SCALE_OUT in p.parents or p.parent == SCALE_OUT],
                         ids=lambda p: str(p.parent.relative_to(DEPLOY)))
def test_kustomization_lists_every_file_beside_it(path: Path) -> None:
    [kustomization] = documents(path)
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in path.parent.glob("*.yaml")} - {"kustomization.yaml"} - NOT_APPLIED
    assert {name for name in listed if "/" not in name} == on_disk
    assert all((path.parent / name).is_file() for name in listed - on_disk)


def test_role_grants_exactly_what_the_pods_run_calls() -> None:
    role = _one(SCALE_OUT / "rbac.yaml", "Role")
    granted = {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert granted == {(p.api_group, p.resource, verb) for p in JOB_PERMISSIONS for verb in p.verbs}


def test_indexed_job_runs_one_shard_per_completion_index() -> None:
    job = _one(SCALE_OUT / "jobs" / "shards-job.yaml", "Job")
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    shards = int(env["SHARDS"]["value"])
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == shards
    assert "job-completion-index" in env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert "controller-uid" in env["RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    command = container["command"]
    assert command[:4] == ["python", "-m", "perf_tests", "run"]
    args = _parser().parse_args(_expand(command[3:], {"JOB_COMPLETION_INDEX": "1", "SHARDS": str(shards),
                                                      "SCENARIO_FILE": env["SCENARIO_FILE"]["value"]}))
    assert (args.shard, args.barrier is not None, args.run_id) == (f"1/{shards}", True, "x")
    # The scenario is mounted under its own file name (the "latest" pointer's name), as the ConfigMap's key.
    assert args.scenario == f"/etc/perf-tests/{_scenario_file()}"
    assert container["volumeMounts"][0]["mountPath"] == "/etc/perf-tests"
    merge = _one(SCALE_OUT / "jobs" / "merge-job.yaml", "Job")
    merge_container = merge["spec"]["template"]["spec"]["containers"][0]
    merge_env = {item["name"]: item.get("value") for item in merge_container["env"]}
    assert merge_env["SHARDS"] == str(shards)
    _uploads_with_secret_credentials(merge_container)
    # What `run --pods` creates has the same shape.
    made = shard_job("j", "r", 3, 1.0, "cm", "img", {})["spec"]
    assert (made["completionMode"], made["completions"], made["parallelism"]) == ("Indexed", 3, 3)
    made_args = made["template"]["spec"]["containers"][0]["command"][3:]
    assert _parser().parse_args(_expand(made_args, {"JOB_COMPLETION_INDEX": "2"})).shard == "2/3"
    uploading = shard_job("j", "run-1", 2, 1.0, "cm", "img", {"PERF_RESULTS_URL": "s3://b/p"},
                          scenario_name="nightly.json", upload=True, env_secret="s3-credentials",
                          start_tolerance=12)["spec"]["template"]["spec"]["containers"][0]
    parsed = _parser().parse_args(_expand(uploading["command"][3:], {"JOB_COMPLETION_INDEX": "1"}))
    assert (parsed.scenario, parsed.run_id, parsed.shard_upload, parsed.start_tolerance) == (
        "/etc/perf-tests/nightly.json", "run-1", True, 12.0)
    # Credentials come from a Secret (envFrom), never as values in the Job.
    assert uploading["envFrom"] == [{"secretRef": {"name": "s3-credentials", "optional": True}}]
    assert {item["name"] for item in uploading["env"]} == {"JOB_COMPLETION_INDEX", "PERF_RESULTS_URL"}


def _scenario_file() -> str:
    """The one scenario file the scale-out kustomization turns into the perf-tests-scenario ConfigMap."""
    [kustomization] = documents(SCALE_OUT / "kustomization.yaml")
    [generator] = kustomization["configMapGenerator"]
    [name] = generator["files"]
    assert generator["name"] == "perf-tests-scenario" and "=" not in name  # keyed by its own file name
    scenario = json.loads((SCALE_OUT / name).read_text(encoding="utf-8"))
    assert isinstance(scenario, list) and scenario
    assert name != "scenario.json"  # a generic name would make every scenario's "latest" pointer the same
    return str(name)


def _uploads_with_secret_credentials(container: dict[str, Any]) -> None:
    """The merge uploads when PERF_RESULTS_URL is set: it and the S3 credentials come from a Secret by envFrom
    (optional: without it nothing is uploaded), never as values in the manifest."""
    assert container["envFrom"] == [{"secretRef": {"name": "perf-tests-results-upload", "optional": True}}]
    names = {item["name"] for item in container.get("env", [])}
    assert not names & {"PERF_RESULTS_URL", "PERF_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                        "AWS_SESSION_TOKEN"}
    text = yaml.safe_dump(container)
    assert "s3://" not in text and "AWS_SECRET" not in text


def test_tekton_pipeline_fans_out_over_the_shard_index_and_merges_finally() -> None:
    pipeline = _one(SCALE_OUT / "tekton" / "pipeline.yaml", "Pipeline")
    [shard] = pipeline["spec"]["tasks"]
    assert shard["matrix"]["params"] == [{"name": "shard-index", "value": "$(params.shard-indexes[*])"}]
    defaults = {p["name"]: p.get("default") for p in pipeline["spec"]["params"]}
    step = shard["taskSpec"]["steps"][0]
    args = _parser().parse_args(["run", *_expand(step["args"], {
        "params.shard-index": "0", "params.shard-count": "4", "params.scenario-file": defaults["scenario-file"],
        "workspaces.scenario.path": "/workspace/scenario"})])
    assert args.shard == "0/4" and args.run_id == "x"
    assert args.scenario == f"/workspace/scenario/{_scenario_file()}"  # its own name, the ConfigMap's key
    assert {p["name"]: p["value"] for p in shard["params"]}["scenario-file"] == "$(params.scenario-file)"
    [merge] = pipeline["spec"]["finally"]
    [merge_step] = merge["taskSpec"]["steps"]
    assert "perf_tests merge" in merge_step["script"]
    _uploads_with_secret_credentials(merge_step)
    assert len(defaults["shard-indexes"]) == int(defaults["shard-count"])


def test_the_nightly_driver_runs_the_scenario_under_its_own_name() -> None:
    cronjob = _one(SCALE_OUT / "nightly" / "cronjob.yaml", "CronJob")
    [driver] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = _parser().parse_args(driver["command"][3:])
    assert (args.scenario, args.pods) == (f"/etc/perf-tests/{_scenario_file()}", 4)
    # It uploads the merged run when the optional Secret sets PERF_RESULTS_URL, and hands the same Secret to
    # the shard pods, which upload their folders for the merged events.
    _uploads_with_secret_credentials(driver)
    env = {item["name"]: item.get("value") for item in driver["env"]}
    assert env["SCALE_OUT_ENV_SECRET"] == "perf-tests-results-upload"


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=lambda p: str(p.parent.relative_to(DEPLOY)))
def test_kubectl_kustomize_renders(path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed: run 'make system-deps' (Debian's kubernetes-client)")
    result = subprocess.run([kubectl, "kustomize", str(path.parent)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    [kustomization] = documents(path)
    assert len(rendered) >= len(kustomization["resources"])
    assert all(doc["metadata"].get("namespace") in (None, "pipelines") for doc in rendered)


def _extras_in(text: str) -> list[set[str]]:
    """Every ``EXTRAS=...`` value in a text (the Containerfile's ``ARG`` default, ``--build-arg`` examples)."""
    return [set(value.split(",")) for value in re.findall(r"\bEXTRAS=([\w,]+)", text)]


def test_image_extras_include_what_results_upload_needs() -> None:
    """PERF_RESULTS_URL needs boto3 (the ``s3`` extra): the image's default and every documented build have it."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    needed = {name for name, requirements in extras.items() if any(req.startswith("boto3") for req in requirements)}
    assert needed == {"s3"}
    default = re.search(r"^ARG EXTRAS=([\w,]+)$", (ROOT / "Containerfile").read_text(encoding="utf-8"), re.MULTILINE)
    assert default is not None
    assert needed <= set(default.group(1).split(","))
    documented = [ROOT / "Containerfile", ROOT / "README.md", *sorted(DEPLOY.rglob("*.md")),
                  *sorted(DEPLOY.rglob("*.yaml"))]
    builds = [(path.name, found) for path in documented for found in _extras_in(path.read_text(encoding="utf-8"))]
    assert builds
    assert [(name, found) for name, found in builds if not needed <= found] == []
