"""Seeding the embedded simulator: a few pipelines, experiments and runs, so read load has ids to use.

A fresh simulator holds only the ``Default`` experiment, so ``get_run``, ``get_pipeline`` and the other
reads that need an id have nothing to ask for (RANDOM_GETS then sends their list calls instead, and a
threshold on ``get_run`` has no data). ``seed_simulator`` makes the server hold at least the counts of a
``SeedPlan``, through the public KFP v2beta1 API, as any client would create them: pipelines (each with
one version of a one-task spec), experiments (the ``Default`` one counts), and runs spread over them.

Only for the simulator: the counts come from its ``GET /_admin/stats``, and its set-up calls are retried
on dropped connections and 5xx answers, which is safe because the simulator's injected faults have no
side effects (a faulted request never reached a handler). Never point this at a cluster.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import urllib3
from pydantic import BaseModel, ConfigDict, Field, model_validator

from perf_tests.targets.deadline import Deadline, install_deadline_pools

__all__ = ["SeedError", "SeedPlan", "SeededObjects", "seed_simulator"]

API = "/apis/v2beta1"

# A compiled KFP v2 pipeline with one container task and no inputs (what `kfp dsl compile` writes for
# a single-component pipeline, trimmed).
SEED_PIPELINE_SPEC: dict[str, Any] = {
    "pipelineInfo": {"name": "perf-tests-seed", "description": "Seeded by perf-tests for read load."},
    "schemaVersion": "2.1.0",
    "sdkVersion": "kfp-2.17.0",
    "components": {"comp-hello": {"executorLabel": "exec-hello"}},
    "deploymentSpec": {
        "executors": {"exec-hello": {"container": {"image": "python:3.11-slim", "command": ["echo", "hello"]}}}
    },
    "root": {"dag": {"tasks": {"hello": {"componentRef": {"name": "comp-hello"}, "taskInfo": {"name": "hello"}}}}},
}

_LOCK = threading.Lock()  # entries preparing at once must not both see an empty server and both fill it


class SeedError(Exception):
    """Seeding failed; the message says which call and why."""


class SeedPlan(BaseModel):
    """How many objects the simulator should hold at least (camelCase-free: the names are plain)."""

    # Like the scenario's own options models (perf_tests.models.OptionsModel), which the simulator does not
    # import: unknown keys and NaN/Infinity are errors.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    pipelines: int = Field(default=3, ge=0, le=200, description="Pipelines (one version each).")
    experiments: int = Field(default=3, ge=0, le=200, description="Experiments, the Default one included.")
    runs: int = Field(default=20, ge=0, le=2000, description="Runs, spread over the pipelines and experiments.")

    @model_validator(mode="after")
    def _runs_need_a_pipeline(self) -> SeedPlan:
        if self.runs and not self.pipelines:
            raise ValueError("runs need at least one pipeline to run ('pipelines' >= 1)")
        return self


class SeededObjects(BaseModel):
    """What seeding found and created (ids of the created objects, and how many calls it made)."""

    found: dict[str, int] = Field(default_factory=dict)
    pipelines: list[str] = Field(default_factory=list)
    pipeline_versions: list[str] = Field(default_factory=list)
    experiments: list[str] = Field(default_factory=list)
    runs: list[str] = Field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    @property
    def created(self) -> bool:
        """Whether anything was created."""
        return bool(self.pipelines or self.experiments or self.runs)

    def describe(self) -> str:
        """One line for the entry's notes."""
        if not self.created:
            return "the embedded simulator already held enough pipelines, experiments and runs: nothing seeded"
        return (
            f"seeded the embedded simulator with {len(self.pipelines)} pipelines, {len(self.experiments)} "
            f"experiments and {len(self.runs)} runs before the start ({self.requests} set-up calls, "
            f"not measured)"
        )


class _Api:
    """POST/GET JSON on the simulator with retried set-up calls and an overall deadline."""

    def __init__(self, url: str, timeout: float, deadline: float) -> None:
        self.base = url.rstrip("/")
        self.deadline = deadline
        self.requests = 0
        self.timeout = timeout
        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=timeout),
            retries=urllib3.Retry(
                total=4, connect=4, read=4, status=4, other=4, allowed_methods=None,
                status_forcelist=(500, 502, 503, 504), backoff_factor=0.05, raise_on_status=False,
                redirect=False,
            ),
        )
        install_deadline_pools(self._pool)  # urllib3's timeouts bound each read, not the call

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if time.monotonic() > self.deadline:
            raise SeedError(f"seeding the embedded simulator took too long (at {method} {path})")
        data = None if body is None else json.dumps(body).encode()
        self.requests += 1
        try:
            with Deadline(self.timeout * 5, f"seeding's {method} {path} (with its retries)"):
                response = self._pool.request(method, self.base + path, body=data,
                                              headers={"Content-Type": "application/json"})
        except urllib3.exceptions.HTTPError as exc:
            raise SeedError(f"{method} {path} failed: {type(exc).__name__}: {exc}") from None
        text = response.data.decode("utf-8", "replace")
        if response.status != 200:
            raise SeedError(f"{method} {path} answered HTTP {response.status}: {text[:200]}")
        try:
            answer = json.loads(text)
        except ValueError:
            raise SeedError(f"{method} {path} did not answer JSON") from None
        if not isinstance(answer, dict):
            raise SeedError(f"{method} {path} did not answer a JSON object")
        return answer

    def close(self) -> None:
        self._pool.clear()


def seed_simulator(
    url: str,
    plan: SeedPlan,
    *,
    namespace: str | None = None,
    timeout: float = 10.0,
    deadline: float = 60.0,
) -> SeededObjects:
    """Make the simulator at ``url`` hold at least ``plan``'s counts; return what was created.

    ``namespace`` goes into created pipelines and experiments (multi-user simulators). ``timeout`` bounds
    each call, ``deadline`` the whole seeding.

    Raises:
        SeedError: the simulator's counts could not be read, or a create call failed after its retries.
    """
    begin = time.monotonic()
    api = _Api(url, timeout, begin + deadline)
    result = SeededObjects()
    try:
        with _LOCK:
            _fill(api, plan, namespace, result)
    finally:
        api.close()
        result.requests = api.requests
        result.seconds = time.monotonic() - begin
    return result


def _fill(api: _Api, plan: SeedPlan, namespace: str | None, result: SeededObjects) -> None:
    objects = api.call("GET", "/_admin/stats").get("objects")
    if not isinstance(objects, dict):
        raise SeedError("GET /_admin/stats holds no object counts: is this the embedded simulator?")
    found = {kind: int(objects.get(kind) or 0) for kind in ("pipelines", "experiments", "runs")}
    result.found = found
    tag = uuid.uuid4().hex[:8]
    scope = {"namespace": namespace} if namespace else {}

    experiments = [
        api.call("POST", f"{API}/experiments", {"display_name": f"perf-tests-seed-{tag}-{index}", **scope})
        for index in range(max(plan.experiments - found["experiments"], 0))
    ]
    result.experiments = [_id(e, "experiment_id", "POST /experiments") for e in experiments]

    missing_runs = max(plan.runs - found["runs"], 0)
    new_pipelines = max(plan.pipelines - found["pipelines"], 0)
    if missing_runs and not new_pipelines:
        new_pipelines = 1  # the runs need a pipeline of ours to reference
    versions: list[tuple[str, str]] = []
    for index in range(new_pipelines):
        pipeline = api.call("POST", f"{API}/pipelines", {"display_name": f"perf-tests-seed-{tag}-{index}", **scope})
        pipeline_id = _id(pipeline, "pipeline_id", "POST /pipelines")
        version = api.call("POST", f"{API}/pipelines/{pipeline_id}/versions", {
            "display_name": f"perf-tests-seed-{tag}-{index}-v1",
            "pipeline_id": pipeline_id,
            "pipeline_spec": SEED_PIPELINE_SPEC,
        })
        result.pipelines.append(pipeline_id)
        version_id = _id(version, "pipeline_version_id", "POST /pipelines/{id}/versions")
        result.pipeline_versions.append(version_id)
        versions.append((pipeline_id, version_id))

    for index in range(missing_runs):
        pipeline_id, version_id = versions[index % len(versions)]
        body: dict[str, Any] = {
            "display_name": f"perf-tests-seed-{tag}-run-{index}",
            "pipeline_version_reference": {"pipeline_id": pipeline_id, "pipeline_version_id": version_id},
        }
        if result.experiments:
            body["experiment_id"] = result.experiments[index % len(result.experiments)]
        result.runs.append(_id(api.call("POST", f"{API}/runs", body), "run_id", "POST /runs"))


def _id(answer: dict[str, Any], key: str, call: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise SeedError(f"{call} answered without a {key}")
    return value
