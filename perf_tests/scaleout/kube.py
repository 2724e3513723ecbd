"""``python -m perf_tests run --pods N FILE``: the scenario as a Kubernetes Indexed Job, one pod per shard.

The run puts the scenario file in a ConfigMap and creates an Indexed Job (``completionMode: Indexed``,
``completions`` = ``parallelism`` = N, ``backoffLimit: 0``) whose pod ``i`` runs ``python -m perf_tests run
--shard $(JOB_COMPLETION_INDEX)/N --start-at T --run-id RUN --print-result`` from the perf-tests image, ``T``
a little ahead (``SCALE_OUT_START_LEAD``, image pulls and start-up). It follows the Job with a watch (as the
Tekton executor follows its PipelineRuns), reads each pod's log for its ``shard.json`` (printed between
markers, gzip+base64, so no shared volume is needed), merges the shards into one results directory here and
judges the run once. With ``PERF_RESULTS_URL`` set here, the pods get it too (``--shard-upload``): each
uploads its results directory to ``<prefix>/<RUN>/shard-<i>/`` and ``shard_folders`` fetches them, so the
merged events are every shard's; without, the merged run says where the events stayed. Ctrl-C or SIGTERM
deletes the Job (its pods go with it); the Job and the ConfigMap are
deleted at the end either way. Connection settings are the Tekton executor's (``KUBECONFIG``,
``K8S_CONTEXT``, ``TEKTON_NAMESPACE``, ``TEKTON_REQUEST_TIMEOUT``, ``TEKTON_WATCH_TIMEOUT``); the image is
``SCALE_OUT_IMAGE`` (built from the repository's ``Containerfile``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from perf_tests.errors import PerfTestsError, TargetError
from perf_tests.recorder.event_codec import EVENTS_FILE_NAME
from perf_tests.scaleout.result import SHARD_FILE_NAME, ShardResult
from perf_tests.scheduler.stop import StopToken
from perf_tests.tekton.client import Permission, PipelineRunWatch, TektonClient, WatchExpired, _Missing
from perf_tests.tekton.logs import extract_report
from perf_tests.tekton.settings import TektonSettings

if TYPE_CHECKING:
    from perf_tests.storage.uploader import ResultsUploader

__all__ = ["JOB_PERMISSIONS", "JobClient", "PodsRun", "ScaleOutSettings", "shard_folders", "shard_job"]

logger = logging.getLogger(__name__)

CONTAINER = "shard"
SCENARIO_MOUNT = "/etc/perf-tests"
RESULTS_MOUNT = "/results"
RUN_LABEL = "perf-tests.kubeflow.org/run"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
# The object storage settings a shard pod needs to upload its results (no secrets: those come from a Secret).
_STORAGE_ENV = ("PERF_S3_ENDPOINT", "PERF_S3_REGION", "PERF_S3_TIMEOUT", "PERF_S3_RETRIES", "PERF_S3_MULTIPART_MB")

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
    # Seconds a pod may reach the shared start late (the cluster schedules it, pulls its image): more fails the
    # merged verdict's shards_on_time check (and a pod past it at its start refuses to run).
    start_tolerance: float = Field(default=10.0, ge=0, le=3600, allow_inf_nan=False,
                                   validation_alias="SCALE_OUT_START_TOLERANCE")
    service_account: str = Field(default="", validation_alias="SCALE_OUT_SERVICE_ACCOUNT")
    # Variables passed to every pod as they are here (the target), comma-separated names.
    pass_env: str = Field(default="API_HOST,API_PORT,API_SCHEME,API_PATH_PREFIX,NAMESPACE,MULTI_USER,"
                                  "VERIFY_SSL,REQUEST_TIMEOUT,EMBEDDED_SIMULATOR,PERF_LOG_EVERY_REQUEST",
                          validation_alias="SCALE_OUT_PASS_ENV")
    keep: bool = Field(default=False, validation_alias="SCALE_OUT_KEEP")
    # A Secret in the namespace whose keys become every pod's environment (envFrom), e.g. AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY for the shards' uploads: secrets are never values in the Job.
    env_secret: str = Field(default="", validation_alias="SCALE_OUT_ENV_SECRET")


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
              env: Mapping[str, str], service_account: str = "", *, scenario_name: str = "scenario.json",
              upload: bool = False, env_secret: str = "", start_tolerance: float = 10.0) -> dict[str, Any]:
    """The Indexed Job: pod ``i`` runs shard ``i`` of ``count`` of run ``run_id`` from ``start_at``, prints its
    shard.json and (``upload``) uploads its results directory to ``<prefix>/<run_id>/shard-<i>/``.

    The scenario is mounted under its own file name (``scenario_name``), so the merged run's ``latest``
    pointer is named after it; ``env_secret`` is a Secret whose keys become the pods' environment (e.g. the
    object storage's credentials: never a value in the Job)."""
    labels = {RUN_LABEL: name, "app.kubernetes.io/name": "perf-tests", "app.kubernetes.io/component": "shard"}
    container_env: list[dict[str, Any]] = [
        {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
    ] + [{"name": key, "value": value} for key, value in sorted(env.items())]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{
            "name": CONTAINER,
            "image": image,
            "command": ["python", "-m", "perf_tests", "run", f"{SCENARIO_MOUNT}/{scenario_name}",
                        "--shard", f"$(JOB_COMPLETION_INDEX)/{count}", "--start-at", f"{start_at:.3f}",
                        "--start-tolerance", f"{start_tolerance:g}", "--run-id", run_id,
                        "--results-dir", f"{RESULTS_MOUNT}/shard-$(JOB_COMPLETION_INDEX)",
                        "--print-result", *(["--shard-upload"] if upload else [])],
            "env": container_env,
            # optional: without the Secret a pod runs as it would without env_secret (the driver only asks
            # the pods to upload when its own environment, often the same Secret, names a bucket)
            **({"envFrom": [{"secretRef": {"name": env_secret, "optional": True}}]} if env_secret else {}),
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
                 abort: StopToken | None = None, run_id: str | None = None,
                 uploader: ResultsUploader | None = None) -> None:
        self.client = client
        self.scenario_file = scenario_file
        self.count = count
        self.settings = settings
        self.abort = abort or StopToken()
        self.name = f"perf-scaleout-{uuid.uuid4().hex[:8]}"
        self.run_id = run_id or self.name
        self.uploader = uploader
        self.start_at = 0.0

    def _env(self) -> dict[str, str]:
        names = [name.strip() for name in self.settings.pass_env.split(",") if name.strip()]
        env = {name: os.environ[name] for name in names if name in os.environ}
        if self.uploader is not None:  # where the shards upload (credentials: SCALE_OUT_ENV_SECRET, a pod role)
            env["PERF_RESULTS_URL"] = str(self.uploader.base)
            env.update({name: os.environ[name] for name in _STORAGE_ENV if name in os.environ})
        return env

    def run(self) -> list[ShardResult]:
        """Run the Job to its end and return every shard's results (``TargetError`` if one has none)."""
        try:
            text = self.scenario_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise PerfTestsError(f"cannot read {self.scenario_file}: {exc.strerror or exc}") from None
        scenario_name = re.sub(r"[^-._a-zA-Z0-9]", "_", self.scenario_file.name)  # a ConfigMap key
        self.client.create_config_map({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": self.name, "labels": {RUN_LABEL: self.name}}, "data": {scenario_name: text}})
        try:
            self.start_at = time.time() + self.settings.start_lead
            self.client.create_job(shard_job(self.name, self.run_id, self.count, self.start_at, self.name,
                                             self.settings.image, self._env(), self.settings.service_account,
                                             scenario_name=scenario_name, upload=self.uploader is not None,
                                             env_secret=self.settings.env_secret,
                                             start_tolerance=self.settings.start_tolerance))
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


def shard_folders(results: Sequence[ShardResult], root: Path, uploader: ResultsUploader | None,
                  run_id: str) -> tuple[list[Path], str | None]:
    """Each shard's folder ``root/shard-<i>`` to merge, and a note when some shard's events are not in it.

    With object storage the pods uploaded their results directories: each is fetched (shard.json and
    events), so the merged events are complete. Without (or when a fetch fails) the folder holds the
    shard.json its pod printed, and the note says where that shard's events are.
    """
    from perf_tests.scaleout.merge import shard_dir_name
    from perf_tests.scaleout.result import write_shard_result
    from perf_tests.scaleout.upload import fetch_shard

    paths: list[Path] = []
    missing: list[str] = []
    for result in results:
        folder = root / shard_dir_name(result.shard.index)
        if uploader is not None:
            try:
                fetched = fetch_shard(uploader, run_id, result.shard.index, root)
            except PerfTestsError as exc:
                logger.warning("could not fetch shard %s's results from %s: %s", result.shard.label,
                               uploader.base, exc)
            else:
                if (fetched / EVENTS_FILE_NAME).is_file():
                    paths.append(fetched)
                    continue
        folder.mkdir(parents=True, exist_ok=True)
        write_shard_result(result, folder)
        paths.append(folder)
        missing.append(result.shard.label)
    if not missing:
        return paths, None
    where = (f"they were not found under {uploader.base}/{run_id}/" if uploader is not None else
             "PERF_RESULTS_URL is not set, so the pods did not upload them")
    note = (f"the events of shard(s) {', '.join(missing)} are not in this results directory ({where}): "
            f"each pod kept them in {RESULTS_MOUNT}/shard-<i>/ of its own volume, gone with the pod unless "
            "SCALE_OUT_KEEP=true; the merged numbers are complete (from each pod's shard.json), the merged "
            "events.jsonl and report timelines are not. Set PERF_RESULTS_URL to have them uploaded and fetched")
    return paths, note
