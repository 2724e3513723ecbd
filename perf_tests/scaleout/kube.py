"""``python -m perf_tests run --pods N FILE``: the scenario as a Kubernetes Indexed Job, one pod per shard.

The run puts the scenario file in a ConfigMap and creates an Indexed Job (``completionMode: Indexed``,
``completions`` = ``parallelism`` = N, ``backoffLimit: 0``) whose pod ``i`` runs ``python -m perf_tests run
--shard $(JOB_COMPLETION_INDEX)/N --start-at T --print-result`` from the perf-tests image, ``T`` a little
ahead (``SCALE_OUT_START_LEAD``, image pulls and start-up). It follows the Job with a watch (as the
Tekton executor follows its PipelineRuns), reads each pod's log for its ``shard.json`` (printed between
markers, gzip+base64, so no shared volume is needed), merges the shards into one results directory here and
judges the run once. Ctrl-C or SIGTERM deletes the Job (its pods go with it); the Job and the ConfigMap are
deleted at the end either way. Connection settings are the Tekton executor's (``KUBECONFIG``,
``K8S_CONTEXT``, ``TEKTON_NAMESPACE``, ``TEKTON_REQUEST_TIMEOUT``, ``TEKTON_WATCH_TIMEOUT``); the image is
``SCALE_OUT_IMAGE`` (built from the repository's ``Containerfile``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from perf_tests.errors import PerfTestsError, TargetError
from perf_tests.scaleout.result import SHARD_FILE_NAME, ShardResult
from perf_tests.tekton.client import Permission, PipelineRunWatch, TektonClient, WatchExpired, _Missing
from perf_tests.tekton.logs import extract_report
from perf_tests.tekton.settings import TektonSettings

__all__ = ["JOB_PERMISSIONS", "JobClient", "PodsRun", "ScaleOutSettings", "shard_job"]

logger = logging.getLogger(__name__)

CONTAINER = "shard"
SCENARIO_MOUNT = "/etc/perf-tests"
RESULTS_MOUNT = "/results"
RUN_LABEL = "perf-tests.kubeflow.org/run"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"

# Every call of JobClient, by RBAC verb; deploy/scale-out/rbac.yaml grants exactly these (a test checks).
JOB_PERMISSIONS: tuple[Permission, ...] = (
    Permission("batch", "jobs", ("create", "delete", "get", "watch")),
    Permission("", "configmaps", ("create", "delete")),
    Permission("", "pods", ("list",)),
    Permission("", "pods/log", ("get",)),
)


class ScaleOutSettings(BaseSettings):
    """``SCALE_OUT_*``: the image of the shard pods, how far ahead they start, what they pass on."""

    model_config = SettingsConfigDict(extra="ignore")

    image: str = Field(default="quay.io/kubeflow/perf-tests:latest", validation_alias="SCALE_OUT_IMAGE")
    start_lead: float = Field(default=60.0, gt=0, le=3600, allow_inf_nan=False,
                              validation_alias="SCALE_OUT_START_LEAD")
    service_account: str = Field(default="", validation_alias="SCALE_OUT_SERVICE_ACCOUNT")
    # Variables passed to every pod as they are here (the target), comma-separated names.
    pass_env: str = Field(default="API_HOST,API_PORT,API_SCHEME,API_PATH_PREFIX,NAMESPACE,MULTI_USER,"
                                  "VERIFY_SSL,REQUEST_TIMEOUT,EMBEDDED_SIMULATOR,PERF_LOG_EVERY_REQUEST",
                          validation_alias="SCALE_OUT_PASS_ENV")
    keep: bool = Field(default=False, validation_alias="SCALE_OUT_KEEP")


class JobClient(TektonClient):
    """The Kubernetes calls of a pods run: ConfigMaps, Jobs, pods by label and logs (one namespace)."""

    def __init__(self, api_client: Any, settings: TektonSettings, where: str) -> None:
        from kubernetes import client

        super().__init__(api_client, settings, where)
        self._batch = client.BatchV1Api(api_client)

    def create_config_map(self, body: dict[str, Any]) -> None:
        self._call("create", "configmaps", self.namespace, self._core.create_namespaced_config_map,
                   self.namespace, body)

    def delete_config_map(self, name: str) -> bool:
        try:
            self._call("delete", "configmaps", self.namespace, self._core.delete_namespaced_config_map, name,
                       self.namespace, missing_ok=True)
        except _Missing:
            return False
        return True

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        created = self._call("create", "jobs", self.namespace, self._batch.create_namespaced_job, self.namespace,
                             body)
        result: dict[str, Any] = self._api_client.sanitize_for_serialization(created)
        return result

    def get_job(self, name: str) -> dict[str, Any] | None:
        try:
            job = self._call("get", "jobs", self.namespace, self._batch.read_namespaced_job, name, self.namespace,
                             missing_ok=True)
        except _Missing:
            return None
        result: dict[str, Any] = self._api_client.sanitize_for_serialization(job)
        return result

    def delete_job(self, name: str) -> bool:
        """Delete the Job and (in the background) its pods; False when already gone."""
        try:
            self._call("delete", "jobs", self.namespace, self._batch.delete_namespaced_job, name, self.namespace,
                       propagation_policy="Background", missing_ok=True)
        except _Missing:
            return False
        return True

    def watch_jobs(self, label_selector: str, timeout: int) -> PipelineRunWatch:
        """A watch on the Jobs matching the selector (the same reader as the Tekton executor's)."""
        response = self._call("watch", "jobs", self.namespace, self._batch.list_namespaced_job, self.namespace,
                              label_selector=label_selector, watch=True, timeout_seconds=timeout,
                              _preload_content=False, _request_timeout=timeout + self.settings.request_timeout)
        return PipelineRunWatch(self, response)


def shard_job(name: str, run_id: str, count: int, start_at: float, config_map: str, image: str,
              env: Mapping[str, str], service_account: str = "") -> dict[str, Any]:
    """The Indexed Job: pod ``i`` runs shard ``i`` of ``count`` from ``start_at`` and prints its shard.json."""
    labels = {RUN_LABEL: run_id, "app.kubernetes.io/name": "perf-tests", "app.kubernetes.io/component": "shard"}
    container_env: list[dict[str, Any]] = [
        {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
    ] + [{"name": key, "value": value} for key, value in sorted(env.items())]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{
            "name": CONTAINER,
            "image": image,
            "command": ["python", "-m", "perf_tests", "run", f"{SCENARIO_MOUNT}/scenario.json",
                        "--shard", f"$(JOB_COMPLETION_INDEX)/{count}", "--start-at", f"{start_at:.3f}",
                        "--results-dir", f"{RESULTS_MOUNT}/shard-$(JOB_COMPLETION_INDEX)", "--print-result"],
            "env": container_env,
            "volumeMounts": [{"name": "scenario", "mountPath": SCENARIO_MOUNT, "readOnly": True},
                             {"name": "results", "mountPath": RESULTS_MOUNT}],
        }],
        "volumes": [{"name": "scenario", "configMap": {"name": config_map}}, {"name": "results", "emptyDir": {}}],
    }
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {"completionMode": "Indexed", "completions": count, "parallelism": count, "backoffLimit": 0,
                 "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
    }


@dataclass
class JobState:
    """What the Job's status says."""

    succeeded: int = 0
    failed: int = 0
    done: bool = False
    message: str = ""


def job_state(job: Mapping[str, Any], count: int) -> JobState:
    status = job.get("status") or {}
    state = JobState(int(status.get("succeeded") or 0), int(status.get("failed") or 0))
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            state.done = True
            state.message = str(condition.get("message") or condition.get("reason") or condition["type"])
    state.done = state.done or state.succeeded + state.failed >= count
    return state


class PodsRun:
    """One ``--pods N`` run: create, follow, collect, clean up (see the module docstring)."""

    def __init__(self, client: JobClient, scenario_file: Path, count: int, settings: ScaleOutSettings,
                 abort: threading.Event | None = None) -> None:
        self.client = client
        self.scenario_file = scenario_file
        self.count = count
        self.settings = settings
        self.abort = abort or threading.Event()
        self.name = f"perf-scaleout-{uuid.uuid4().hex[:8]}"
        self.start_at = 0.0

    def _env(self) -> dict[str, str]:
        names = [name.strip() for name in self.settings.pass_env.split(",") if name.strip()]
        return {name: os.environ[name] for name in names if name in os.environ}

    def run(self) -> list[ShardResult]:
        """Run the Job to its end and return every shard's results (``TargetError`` if one has none)."""
        try:
            text = self.scenario_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise PerfTestsError(f"cannot read {self.scenario_file}: {exc.strerror or exc}") from None
        self.client.create_config_map({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": self.name, "labels": {RUN_LABEL: self.name}}, "data": {"scenario.json": text}})
        try:
            self.start_at = time.time() + self.settings.start_lead
            self.client.create_job(shard_job(self.name, self.name, self.count, self.start_at, self.name,
                                             self.settings.image, self._env(), self.settings.service_account))
            logger.info("created Indexed Job %s/%s: %d shard pods, shared start in %.0fs", self.client.namespace,
                        self.name, self.count, self.settings.start_lead)
            state = self._follow()
            if self.abort.is_set():
                raise TargetError(f"interrupted: Job {self.name} deleted, its pods stopped")
            return self._collect(state)
        finally:
            if not self.settings.keep:
                self.client.delete_job(self.name)
                self.client.delete_config_map(self.name)

    def _follow(self) -> JobState:
        """Watch the Job until it is done or the run is interrupted (then delete it at once)."""
        selector = f"{RUN_LABEL}={self.name}"
        state = JobState()
        while not self.abort.is_set() and not state.done:
            watch = self.client.watch_jobs(selector, self.client.settings.watch_timeout)
            stopper = threading.Thread(target=self._close_on_abort, args=(watch,), daemon=True)
            stopper.start()
            try:
                for event in watch:
                    if event.type == "DELETED":
                        raise TargetError(f"Job {self.name} was deleted by someone else")
                    state = job_state(event.object, self.count)
                    if state.done:
                        break
            except WatchExpired:
                continue
            finally:
                watch.close()
        if self.abort.is_set():
            self.client.delete_job(self.name)
        return state

    def _close_on_abort(self, watch: PipelineRunWatch) -> None:
        while not self.abort.wait(0.2):
            if getattr(watch, "_closed", False):
                return
        watch.close()

    def _collect(self, state: JobState) -> list[ShardResult]:
        pods = self.client.list_pods(f"{JOB_NAME_LABEL}={self.name}")
        results: dict[int, ShardResult] = {}
        problems: list[str] = []
        for pod in pods:
            name = pod["metadata"]["name"]
            annotations = pod["metadata"].get("annotations") or {}
            index = annotations.get("batch.kubernetes.io/job-completion-index", "?")
            found = extract_report(self.client.read_log(name, CONTAINER))
            if found is None or found[0] != SHARD_FILE_NAME:
                tail = self.client.read_log(name, CONTAINER, tail_lines=self.client.settings.log_tail_lines)
                problems.append(f"pod {name} (shard {index}) printed no {SHARD_FILE_NAME}; its log ends:\n{tail}")
                continue
            result = ShardResult.model_validate(json.loads(found[1]))
            results[result.shard.index] = result
        missing = [index for index in range(self.count) if index not in results]
        if missing:
            raise TargetError(f"Job {self.name}: no results from shard(s) {', '.join(map(str, missing))} "
                              f"({state.message or 'see the pods'})" + ("\n" + "\n".join(problems) if problems else ""))
        return [results[index] for index in range(self.count)]


def write_shards(results: Sequence[ShardResult], root: Path) -> list[Path]:
    """Each shard's results as ``root/shard-<i>/shard.json`` (what ``merge`` reads)."""
    from perf_tests.scaleout.merge import shard_dir_name
    from perf_tests.scaleout.result import write_shard_result

    paths = []
    for result in results:
        folder = root / shard_dir_name(result.shard.index)
        folder.mkdir(parents=True, exist_ok=True)
        write_shard_result(result, folder)
        paths.append(folder)
    return paths
