"""A small fake Kubernetes API server with Tekton, on loopback, for the Tekton executor's tests.

It implements exactly the calls the executors make (``perf_tests.tekton.client.PERMISSIONS`` and
``perf_tests.scaleout.kube.JOB_PERMISSIONS``): get a Task; create, get, watch (by label selector),
merge-patch and delete PipelineRuns; list pods by label; read a container's log; create and delete
Secrets. Every request must carry the bearer token it was started with. A created
PipelineRun advances on its own like Tekton would: the cluster resolver looks the Task up, a TaskRun pod
starts after ``queue_delay`` seconds and runs the Task's steps (taken from the real
``deploy/tekton/task-load-generator.yaml``) for ``run_seconds``; then the ``Succeeded`` condition turns
True (the last step's log holds the report between markers) or False (a step failed), unless the run
hangs until it is cancelled or its ``timeouts.pipeline`` passes. When the TaskRun pod starts, the
Secret its ``credentials-secret`` param names is looked up as the kubelet would for an optional
``secretKeyRef`` (``pod_secrets`` records what the pod got). ``forbidden`` makes chosen calls answer
403 as RBAC would. Every request is recorded as (verb, resource, namespace) for the RBAC tests.

Jobs (``batch/v1``, Indexed) and ConfigMaps: create, get, watch (by label selector) and delete. A created
Job's pods really run, as local processes: a small kubelet mounts each ConfigMap volume and emptyDir as a
temporary folder, expands ``$(VAR)`` in the command from the container's env (``JOB_COMPLETION_INDEX``
from the pod's completion-index annotation), runs ``python`` as this interpreter with ``pod_env`` added, and
keeps the output as the container's log; the Job's status counts succeeded and failed pods and turns
``Complete`` or ``Failed``. Deleting a Job kills and removes its pods.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from perf_tests.tekton.logs import format_report_block

TASK_FILE = Path(__file__).resolve().parents[3] / "deploy" / "tekton" / "task-load-generator.yaml"
SERVICE_ACCOUNT_USER = "system:serviceaccount:pipelines:perf-tests-runner"
# Recognisable, so that a test can prove it never reaches a log, an event, a file or a message.
FAKE_TOKEN = "fake-token-3f9c2e7a1b5d4c8e9f0a"


@dataclass
class Behaviour:
    """How the fake cluster treats the next PipelineRuns."""

    outcome: str = "succeed"  # succeed | fail | hang
    queue_delay: float = 0.3
    run_seconds: float = 0.5
    report: bytes = b"{}"
    failing_step: str = "load"
    failure_log: str = "Traceback (most recent call last):\nConnectionError: cannot connect to http://llm:8000\n"
    forbidden: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource)
    ignore_cancel: bool = False
    max_creates: int | None = None  # refuse (403) creates beyond this many
    pod_env: dict[str, str] = field(default_factory=dict)  # added to every Job pod's environment


@dataclass
class Request:
    """One API request as RBAC sees it."""

    verb: str
    api_group: str
    resource: str
    namespace: str
    query: dict[str, str]


def now_rfc3339() -> str:
    """Kubernetes timestamps: UTC, whole seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_go_duration(text: str) -> float:
    """``1h2m3s`` in seconds."""
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)(h|ms|m|s)", text):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return web.json_response(body, status=code)


class FakeKube:
    """The fake API server; start with ``with FakeKube(token) as kube: ...`` (serves in its own thread)."""

    def __init__(self, token: str, behaviour: Behaviour | None = None) -> None:
        self.token = token
        self.behaviour = behaviour or Behaviour()
        self.tasks: dict[tuple[str, str], dict[str, Any]] = {}
        self.pipelineruns: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.logs: dict[tuple[str, str, str], str] = {}
        self.requests: list[Request] = []
        self.created: list[dict[str, Any]] = []  # request bodies of created PipelineRuns
        self.patches: list[tuple[str, str, dict[str, Any]]] = []  # (name, content type, body)
        self.deleted: list[str] = []
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.created_secrets: list[dict[str, Any]] = []  # request bodies of created Secrets
        self.deleted_secrets: list[str] = []
        self.pod_secrets: dict[str, dict[str, str]] = {}  # PipelineRun name -> decoded data its pod read
        self.bodies: list[bytes] = []  # every request body, raw
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._watchers: list[tuple[dict[str, str], asyncio.Queue[tuple[str, dict[str, Any]] | None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._resource_version = 1000
        self.on_pod_started: Callable[[], None] | None = None  # called on the server's loop
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.configmaps: dict[tuple[str, str], dict[str, Any]] = {}
        self.created_jobs: list[dict[str, Any]] = []
        self._job_watchers: list[tuple[dict[str, str], asyncio.Queue[tuple[str, dict[str, Any]] | None]]] = []
        self._processes: dict[tuple[str, str], asyncio.subprocess.Process] = {}
        self._scratch = tempfile.TemporaryDirectory(prefix="fake-kubelet-")

    # -- the Task ----------------------------------------------------------------------------------------
    def install_task(self, namespace: str = "pipelines", path: Path = TASK_FILE) -> dict[str, Any]:
        """Serve the real Task manifest in ``namespace``."""
        task: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        task.setdefault("metadata", {})["namespace"] = namespace
        self.tasks[(namespace, task["metadata"]["name"])] = task
        return task

    # -- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> FakeKube:
        self._thread = threading.Thread(target=self._serve, name="fake-kube", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the fake Kubernetes API did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None:
            loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._scratch.cleanup()

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]  # any loop's server (uvloop's is no asyncio.Server)
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            for _, queue in self._watchers + self._job_watchers:
                queue.put_nowait(None)
            for process in self._processes.values():
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await runner.cleanup()

    def call(self, func: Any, *args: Any) -> None:
        """Run ``func(*args)`` on the server's loop (to change state from a test)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(func, *args)

    # -- routing -----------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        parts = [p for p in request.path.split("/") if p]
        query = dict(request.query)
        # /apis/tekton.dev/v1/namespaces/{ns}/{plural}[/{name}]  or  /api/v1/namespaces/{ns}/pods[/{name}/log]
        if parts[:3] == ["apis", "tekton.dev", "v1"] and len(parts) in (6, 7) and parts[3] == "namespaces":
            group, namespace, resource = "tekton.dev", parts[4], parts[5]
            name = parts[6] if len(parts) == 7 else ""
        elif parts[:3] == ["apis", "batch", "v1"] and len(parts) in (6, 7) and parts[3] == "namespaces":
            group, namespace, resource = "batch", parts[4], parts[5]
            name = parts[6] if len(parts) == 7 else ""
        elif parts[:2] == ["api", "v1"] and len(parts) >= 5 and parts[2] == "namespaces":
            group, namespace = "", parts[3]
            resource = "pods/log" if len(parts) == 7 and parts[6] == "log" else parts[4]
            name = parts[5] if len(parts) >= 6 else ""
        else:
            return _status(404, "NotFound", "the server could not find the requested resource")
        verb = self._verb(request.method, bool(name), query)
        self.bodies.append(await request.read())
        self.requests.append(Request(verb, group, resource, namespace, query))
        over_quota = (
            verb == "create"
            and self.behaviour.max_creates is not None
            and len(self.created) >= self.behaviour.max_creates
        )
        if (verb, resource) in self.behaviour.forbidden or over_quota:
            kind = f"{resource}.{group}" if group else resource
            return _status(
                403,
                "Forbidden",
                f'{kind} is forbidden: User "{SERVICE_ACCOUNT_USER}" cannot {verb} resource '
                f'"{resource}" in API group "{group}" in the namespace "{namespace}"',
                {"kind": resource, "group": group, "name": name},
            )
        handler = {
            ("get", "tasks"): self._get_task,
            ("create", "pipelineruns"): self._create_pipelinerun,
            ("get", "pipelineruns"): self._get_pipelinerun,
            ("watch", "pipelineruns"): self._watch_pipelineruns,
            ("patch", "pipelineruns"): self._patch_pipelinerun,
            ("delete", "pipelineruns"): self._delete_pipelinerun,
            ("list", "pods"): self._list_pods,
            ("get", "pods/log"): self._read_log,
            ("create", "secrets"): self._create_secret,
            ("delete", "secrets"): self._delete_secret,
            ("create", "jobs"): self._create_job,
            ("get", "jobs"): self._get_job,
            ("watch", "jobs"): self._watch_jobs,
            ("delete", "jobs"): self._delete_job,
            ("create", "configmaps"): self._create_configmap,
            ("delete", "configmaps"): self._delete_configmap,
        }.get((verb, resource))
        if handler is None:
            return _status(405, "MethodNotAllowed", f"the fake does not implement {verb} {resource}")
        return await handler(request, namespace, name)

    @staticmethod
    def _verb(method: str, named: bool, query: dict[str, str]) -> str:
        if method == "GET":
            if not named:
                return "watch" if query.get("watch") in ("true", "1", "True") else "list"
            return "get"
        return {"POST": "create", "PATCH": "patch", "DELETE": "delete", "PUT": "update"}.get(method, method)

    # -- Tasks -------------------------------------------------------------------------------------------
    async def _get_task(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        task = self.tasks.get((namespace, name))
        if task is None:
            return _status(
                404,
                "NotFound",
                f'tasks.tekton.dev "{name}" not found',
                {"name": name, "group": "tekton.dev", "kind": "tasks"},
            )
        return web.json_response(task)

    # -- PipelineRuns ------------------------------------------------------------------------------------
    def _next_version(self) -> str:
        self._resource_version += 1
        return str(self._resource_version)

    async def _create_pipelinerun(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        body = await request.json()
        self.created.append(copy.deepcopy(body))
        if body.get("apiVersion") != "tekton.dev/v1" or body.get("kind") != "PipelineRun":
            return _status(400, "BadRequest", "expected a tekton.dev/v1 PipelineRun")
        metadata = body.setdefault("metadata", {})
        if not metadata.get("name"):
            if not metadata.get("generateName"):
                return _status(422, "Invalid", "metadata.name or metadata.generateName is required")
            metadata["name"] = metadata["generateName"] + uuid.uuid4().hex[:5]
        metadata.update(
            namespace=namespace,
            uid=str(uuid.uuid4()),
            creationTimestamp=now_rfc3339(),
            resourceVersion=self._next_version(),
        )
        body["status"] = {}
        self.pipelineruns[(namespace, metadata["name"])] = body
        self._publish("ADDED", body)
        task = asyncio.get_running_loop().create_task(self._advance(namespace, metadata["name"]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response(body, status=201)

    async def _get_pipelinerun(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        run = self.pipelineruns.get((namespace, name))
        if run is None:
            return _status(
                404,
                "NotFound",
                f'pipelineruns.tekton.dev "{name}" not found',
                {"name": name, "group": "tekton.dev", "kind": "pipelineruns"},
            )
        return web.json_response(run)

    async def _patch_pipelinerun(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        content_type = request.headers.get("Content-Type", "")
        body = await request.json()
        self.patches.append((name, content_type, body))
        run = self.pipelineruns.get((namespace, name))
        if run is None:
            return _status(
                404,
                "NotFound",
                f'pipelineruns.tekton.dev "{name}" not found',
                {"name": name, "group": "tekton.dev", "kind": "pipelineruns"},
            )
        if content_type != "application/merge-patch+json":
            return _status(415, "UnsupportedMediaType", f"the fake only takes merge patches, got {content_type}")
        _merge(run, body)
        run["metadata"]["resourceVersion"] = self._next_version()
        self._publish("MODIFIED", run)
        if run["spec"].get("status") == "Cancelled" and not self.behaviour.ignore_cancel:
            self._finish(namespace, name, "False", "Cancelled", f'PipelineRun "{name}" was cancelled', exit_code=137)
        return web.json_response(run)

    async def _delete_pipelinerun(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        run = self.pipelineruns.pop((namespace, name), None)
        if run is None:
            return _status(
                404,
                "NotFound",
                f'pipelineruns.tekton.dev "{name}" not found',
                {"name": name, "group": "tekton.dev", "kind": "pipelineruns"},
            )
        self.deleted.append(name)
        for key in [k for k, pod in self.pods.items() if _labels(pod).get("tekton.dev/pipelineRun") == name]:
            del self.pods[key]
        self._publish("DELETED", run)
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})

    async def _watch_pipelineruns(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        selector = _parse_selector(request.query.get("labelSelector", ""))
        timeout = float(request.query.get("timeoutSeconds", "1800"))
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        for (ns, _), run in self.pipelineruns.items():
            if ns == namespace and _matches(run, selector):
                queue.put_nowait(("ADDED", copy.deepcopy(run)))
        entry = (selector | {"\0namespace": namespace}, queue)
        self._watchers.append(entry)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=left)
                except TimeoutError:
                    break
                if item is None:
                    break
                kind, obj = item
                await response.write((json.dumps({"type": kind, "object": obj}) + "\n").encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._watchers.remove(entry)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def _publish(self, kind: str, run: dict[str, Any]) -> None:
        namespace = run["metadata"]["namespace"]
        for selector, queue in list(self._watchers):
            wanted = {k: v for k, v in selector.items() if k != "\0namespace"}
            if selector["\0namespace"] == namespace and _matches(run, wanted):
                queue.put_nowait((kind, copy.deepcopy(run)))

    # -- Secrets -----------------------------------------------------------------------------------------
    async def _create_secret(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        body = await request.json()
        self.created_secrets.append(copy.deepcopy(body))
        metadata = body.setdefault("metadata", {})
        if not metadata.get("name"):
            if not metadata.get("generateName"):
                return _status(422, "Invalid", "metadata.name or metadata.generateName is required")
            metadata["name"] = metadata["generateName"] + uuid.uuid4().hex[:5]
        if (namespace, metadata["name"]) in self.secrets:
            return _status(409, "AlreadyExists", f'secrets "{metadata["name"]}" already exists')
        metadata.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(),
                        resourceVersion=self._next_version())  # fmt: skip
        body.setdefault("type", "Opaque")
        self.secrets[(namespace, metadata["name"])] = body
        return web.json_response(body, status=201)

    async def _delete_secret(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        if self.secrets.pop((namespace, name), None) is None:
            return _status(404, "NotFound", f'secrets "{name}" not found', {"name": name, "kind": "secrets"})
        self.deleted_secrets.append(name)
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})

    def _secret_for_pod(self, namespace: str, run: dict[str, Any]) -> dict[str, str]:
        """What an optional ``secretKeyRef`` of the credentials Secret gives the pod (empty when absent)."""
        params = {p["name"]: p["value"] for p in run["spec"].get("params", [])}
        secret = self.secrets.get((namespace, params.get("credentials-secret", "")))
        if secret is None:
            return {}
        decoded = {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}
        return {**decoded, **(secret.get("stringData") or {})}

    # -- the simulated controller --------------------------------------------------------------------------
    async def _advance(self, namespace: str, name: str) -> None:
        behaviour = self.behaviour
        run = self.pipelineruns.get((namespace, name))
        if run is None:
            return
        timeout = parse_go_duration(((run["spec"].get("timeouts") or {}).get("pipeline")) or "1h")
        self._set_status(namespace, name, "Unknown", "Started", "", startTime=now_rfc3339())
        pipeline_task = run["spec"]["pipelineSpec"]["tasks"][0]
        resolver = {p["name"]: p["value"] for p in pipeline_task["taskRef"].get("params", [])}
        task = self.tasks.get((resolver.get("namespace", ""), resolver.get("name", "")))
        await asyncio.sleep(0.05)
        if task is None:
            message = (
                f"Pipeline {namespace}/{name} can't be Run; it contains Tasks that don't exist: Couldn't "
                f'retrieve Task "resolver type cluster\\nname = {resolver.get("name")}\\n": error '
                f'requesting remote resource: error getting "Cluster" "{namespace}/cluster-abc": '
                f'tasks.tekton.dev "{resolver.get("name")}" not found'
            )
            self._finish(namespace, name, "False", "CouldntGetTask", message)
            return
        try:
            await asyncio.wait_for(self._run_pod(namespace, name, run, task, pipeline_task, behaviour), timeout=timeout)
        except TimeoutError:
            self._finish(
                namespace,
                name,
                "False",
                "PipelineRunTimeout",
                f'PipelineRun "{name}" failed to finish within "{timeout:g}s"',
                exit_code=137,
            )

    async def _run_pod(
        self,
        namespace: str,
        name: str,
        run: dict[str, Any],
        task: dict[str, Any],
        pipeline_task: dict[str, Any],
        behaviour: Behaviour,
    ) -> None:
        await asyncio.sleep(behaviour.queue_delay)
        if self._done(namespace, name):
            return
        steps = [f"step-{step['name']}" for step in task["spec"]["steps"]]
        pod_name = f"{name}-{pipeline_task['name']}-pod"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": namespace,
                "creationTimestamp": now_rfc3339(),
                "labels": {
                    "tekton.dev/pipelineRun": name,
                    "tekton.dev/pipelineTask": pipeline_task["name"],
                    "tekton.dev/taskRun": f"{name}-{pipeline_task['name']}",
                    "app.kubernetes.io/managed-by": "tekton-pipelines",
                },
            },
            "spec": {"containers": [{"name": c, "image": "guidellm"} for c in steps]},
            "status": {
                "phase": "Running",
                "startTime": now_rfc3339(),
                "containerStatuses": [
                    {
                        "name": c,
                        "ready": True,
                        "restartCount": 0,
                        "image": "guidellm",
                        "imageID": "",
                        "state": {"running": {"startedAt": now_rfc3339()}},
                    }
                    for c in steps
                ],
            },
        }
        self.pods[(namespace, pod_name)] = pod
        self.pod_secrets[name] = self._secret_for_pod(namespace, run)
        self._set_status(
            namespace,
            name,
            "Unknown",
            "Running",
            "Tasks Completed: 0 (Failed: 0, Cancelled 0), Skipped: 0",
            childReferences=[
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "TaskRun",
                    "name": f"{name}-{pipeline_task['name']}",
                    "pipelineTaskName": pipeline_task["name"],
                }
            ],
        )
        if self.on_pod_started is not None:
            self.on_pod_started()
        if behaviour.outcome == "hang":
            await asyncio.Event().wait()
        await asyncio.sleep(behaviour.run_seconds)
        if self._done(namespace, name):
            return
        params = {p["name"]: p["value"] for p in run["spec"].get("params", [])}
        basename = params.get("output-basename", "benchmark")
        for container in steps:
            self.logs[(namespace, pod_name, container)] = f"[{container}] started\n"
        if behaviour.outcome == "fail":
            failing = f"step-{behaviour.failing_step}"
            self.logs[(namespace, pod_name, failing)] += behaviour.failure_log
            self._terminate_pod(namespace, pod_name, {failing: (1, "Error")}, default=(0, "Completed"), after=failing)
            self._finish(namespace, name, "False", "Failed", "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0")
            return
        self.logs[(namespace, pod_name, steps[-1])] += format_report_block(behaviour.report, f"{basename}.json")
        self._terminate_pod(namespace, pod_name, {}, default=(0, "Completed"))
        started = run["status"].get("startTime", now_rfc3339())
        self._finish(
            namespace,
            name,
            "True",
            "Succeeded",
            "Tasks Completed: 1 (Failed: 0, Cancelled 0), Skipped: 0",
            results=[
                {"name": "benchmark-report", "value": f"/workspace/results/{basename}.json"},
                {"name": "log-file", "value": f"/workspace/results/{basename}.log"},
                {"name": "start-time", "value": started},
                {"name": "end-time", "value": now_rfc3339()},
            ],
        )

    def _done(self, namespace: str, name: str) -> bool:
        run = self.pipelineruns.get((namespace, name))
        if run is None:
            return True
        return any(
            c["type"] == "Succeeded" and c["status"] != "Unknown" for c in run.get("status", {}).get("conditions", [])
        )

    def _terminate_pod(
        self,
        namespace: str,
        pod_name: str,
        codes: dict[str, tuple[int, str]],
        default: tuple[int, str],
        after: str | None = None,
    ) -> None:
        pod = self.pods.get((namespace, pod_name))
        if pod is None:
            return
        seen_failure = False
        for status in pod["status"]["containerStatuses"]:
            code, reason = codes.get(status["name"], default)
            if seen_failure:
                code, reason = 1, "Error"  # Tekton skips the steps after a failed one
            status["state"] = {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": now_rfc3339(),
                    "finishedAt": now_rfc3339(),
                }
            }
            status["ready"] = False
            if after is not None and status["name"] == after:
                seen_failure = True
        pod["status"]["phase"] = (
            "Succeeded"
            if all(s["state"]["terminated"]["exitCode"] == 0 for s in pod["status"]["containerStatuses"])
            else "Failed"
        )

    def _set_status(self, namespace: str, name: str, status: str, reason: str, message: str, **extra: Any) -> None:
        run = self.pipelineruns.get((namespace, name))
        if run is None:
            return
        run.setdefault("status", {}).update(extra)
        run["status"]["conditions"] = [
            {
                "type": "Succeeded",
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now_rfc3339(),
            }
        ]
        run["metadata"]["resourceVersion"] = self._next_version()
        self._publish("MODIFIED", run)

    def _finish(
        self,
        namespace: str,
        name: str,
        status: str,
        reason: str,
        message: str,
        exit_code: int | None = None,
        **extra: Any,
    ) -> None:
        if self._done(namespace, name):
            return
        if exit_code is not None:
            for (ns, pod_name), pod in list(self.pods.items()):
                if (
                    ns == namespace
                    and _labels(pod).get("tekton.dev/pipelineRun") == name
                    and pod["status"]["phase"] == "Running"
                ):
                    self._terminate_pod(ns, pod_name, {}, default=(exit_code, "Error"))
        self._set_status(namespace, name, status, reason, message, completionTime=now_rfc3339(), **extra)

    # -- ConfigMaps and Jobs -----------------------------------------------------------------------------
    async def _create_configmap(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        body = await request.json()
        key = (namespace, body["metadata"]["name"])
        if key in self.configmaps:
            return _status(409, "AlreadyExists", f'configmaps "{key[1]}" already exists')
        body["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339())
        self.configmaps[key] = body
        return web.json_response(body, status=201)

    async def _delete_configmap(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        if self.configmaps.pop((namespace, name), None) is None:
            return _status(404, "NotFound", f'configmaps "{name}" not found', {"name": name, "kind": "configmaps"})
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})

    async def _create_job(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        body = await request.json()
        self.created_jobs.append(copy.deepcopy(body))
        if body.get("apiVersion") != "batch/v1" or body.get("kind") != "Job":
            return _status(400, "BadRequest", "expected a batch/v1 Job")
        spec = body.get("spec") or {}
        if spec.get("completionMode") == "Indexed" and not spec.get("completions"):
            return _status(422, "Invalid", "spec.completions: Required value: when completionMode is Indexed")
        metadata = body["metadata"]
        metadata.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(),
                        resourceVersion=self._next_version())
        body["status"] = {"active": 0, "succeeded": 0, "failed": 0}
        self.jobs[(namespace, metadata["name"])] = body
        self._publish_job("ADDED", body)
        for index in range(int(spec.get("completions") or 1)):
            task = asyncio.get_running_loop().create_task(self._run_job_pod(namespace, body, index))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(body, status=201)

    async def _get_job(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        job = self.jobs.get((namespace, name))
        if job is None:
            return _status(404, "NotFound", f'jobs.batch "{name}" not found',
                           {"name": name, "group": "batch", "kind": "jobs"})
        return web.json_response(job)

    async def _delete_job(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        job = self.jobs.pop((namespace, name), None)
        if job is None:
            return _status(404, "NotFound", f'jobs.batch "{name}" not found',
                           {"name": name, "group": "batch", "kind": "jobs"})
        self.deleted.append(name)
        for key in [k for k, pod in self.pods.items() if _labels(pod).get("batch.kubernetes.io/job-name") == name]:
            process = self._processes.pop(key, None)
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            del self.pods[key]
        self._publish_job("DELETED", job)
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})

    async def _watch_jobs(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        selector = _parse_selector(request.query.get("labelSelector", ""))
        timeout = float(request.query.get("timeoutSeconds", "1800"))
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        for (ns, _), job in self.jobs.items():
            if ns == namespace and _matches(job, selector):
                queue.put_nowait(("ADDED", copy.deepcopy(job)))
        entry = (selector | {"\0namespace": namespace}, queue)
        self._job_watchers.append(entry)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=left)
                except TimeoutError:
                    break
                if item is None:
                    break
                await response.write((json.dumps({"type": item[0], "object": item[1]}) + "\n").encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._job_watchers.remove(entry)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def _publish_job(self, kind: str, job: dict[str, Any]) -> None:
        namespace = job["metadata"]["namespace"]
        for selector, queue in list(self._job_watchers):
            wanted = {k: v for k, v in selector.items() if k != "\0namespace"}
            if selector["\0namespace"] == namespace and _matches(job, wanted):
                queue.put_nowait((kind, copy.deepcopy(job)))

    async def _run_job_pod(self, namespace: str, job: dict[str, Any], index: int) -> None:
        """The kubelet: run pod ``index`` of the Job as a local process (see the module docstring)."""
        name = job["metadata"]["name"]
        template = job["spec"]["template"]
        pod_spec = template["spec"]
        pod_name = f"{name}-{index}-{uuid.uuid4().hex[:5]}"
        container = pod_spec["containers"][0]
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels.update({"batch.kubernetes.io/job-name": name, "job-name": name,
                       "batch.kubernetes.io/job-completion-index": str(index)})
        annotations = {"batch.kubernetes.io/job-completion-index": str(index)}
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod_name, "namespace": namespace, "labels": labels, "annotations": annotations,
                            "creationTimestamp": now_rfc3339()},
               "spec": copy.deepcopy(pod_spec), "status": {"phase": "Running", "startTime": now_rfc3339()}}
        self.pods[(namespace, pod_name)] = pod
        mounts = self._mount(namespace, pod_name, pod_spec, container)
        env = dict(os.environ) | self.behaviour.pod_env
        for item in container.get("env") or []:
            path = ((item.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath", "")
            if "job-completion-index" in path:
                env[item["name"]] = str(index)
            elif "value" in item:
                env[item["name"]] = item["value"]
        command = [_expand(part, env, mounts) for part in container["command"] + container.get("args", [])]
        if command and command[0] in ("python", "python3"):
            command[0] = sys.executable
        job["status"]["active"] += 1
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT)
        self._processes[(namespace, pod_name)] = process
        output, _ = await process.communicate()
        self.logs[(namespace, pod_name, container["name"])] = output.decode("utf-8", "replace")
        if (namespace, name) not in self.jobs:
            return  # deleted meanwhile
        code = process.returncode or 0
        pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
        pod["status"]["containerStatuses"] = [{"name": container["name"], "ready": False, "restartCount": 0,
                                               "image": container["image"], "imageID": "",
                                               "state": {"terminated": {"exitCode": code, "reason": "Completed"
                                                                        if code == 0 else "Error"}}}]
        status = job["status"]
        status["active"] -= 1
        status["succeeded" if code == 0 else "failed"] += 1
        completions = int(job["spec"].get("completions") or 1)
        if status["failed"] > int(job["spec"].get("backoffLimit", 6)):
            status["conditions"] = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                     "message": "Job has reached the specified backoff limit"}]
        elif status["succeeded"] >= completions:
            status["conditions"] = [{"type": "Complete", "status": "True"}]
            status["completionTime"] = now_rfc3339()
        job["metadata"]["resourceVersion"] = self._next_version()
        self._publish_job("MODIFIED", job)

    def _mount(self, namespace: str, pod_name: str, pod_spec: dict[str, Any],
               container: dict[str, Any]) -> dict[str, str]:
        """Each volume mount as a local folder: mount path -> folder."""
        volumes = {volume["name"]: volume for volume in pod_spec.get("volumes") or []}
        mounts = {}
        for mount in container.get("volumeMounts") or []:
            folder = Path(self._scratch.name) / pod_name / mount["name"]
            folder.mkdir(parents=True, exist_ok=True)
            volume = volumes.get(mount["name"], {})
            if "configMap" in volume:
                config_map = self.configmaps.get((namespace, volume["configMap"]["name"])) or {}
                for key, value in (config_map.get("data") or {}).items():
                    (folder / key).write_text(value, encoding="utf-8")
            mounts[mount["mountPath"]] = str(folder)
        return mounts

    # -- pods --------------------------------------------------------------------------------------------
    async def _list_pods(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        selector = _parse_selector(request.query.get("labelSelector", ""))
        items = [pod for (ns, _), pod in self.pods.items() if ns == namespace and _matches(pod, selector)]
        return web.json_response(
            {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": items}
        )

    async def _read_log(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        container = request.query.get("container", "")
        if (namespace, name) not in self.pods:
            return _status(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
        text = self.logs.get((namespace, name, container), "")
        tail = request.query.get("tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail) :]) if int(tail) else ""
        return web.Response(text=text, content_type="text/plain")

    # -- assertions --------------------------------------------------------------------------------------
    def used(self) -> set[tuple[str, str, str]]:
        """(api group, resource, verb) of every request served."""
        return {(r.api_group, r.resource, r.verb) for r in self.requests}

    def runs(self) -> Iterator[dict[str, Any]]:
        """The PipelineRuns that still exist."""
        return iter(list(self.pipelineruns.values()))


def _expand(text: str, env: dict[str, str], mounts: dict[str, str]) -> str:
    """``$(VAR)`` from the env, as the kubelet expands it, then mount paths as local folders."""
    text = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), text)
    for mount_path, folder in sorted(mounts.items(), key=lambda item: -len(item[0])):
        if text == mount_path or text.startswith(mount_path + "/"):
            return folder + text[len(mount_path):]
    return text


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _parse_selector(text: str) -> dict[str, str]:
    selector = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        selector[key.strip()] = value.strip().lstrip("=")
    return selector


def _matches(obj: dict[str, Any], selector: dict[str, str]) -> bool:
    labels = _labels(obj)
    return all(labels.get(key) == value for key, value in selector.items())


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 JSON merge patch."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def write_kubeconfig(path: Path, server: str, token: str, namespace: str = "pipelines", context: str = "fake") -> Path:
    """A kubeconfig with one context pointing at ``server`` with a bearer token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "clusters": [{"name": "fake-cluster", "cluster": {"server": server}}],
        "users": [{"name": "fake-user", "user": {"token": token}}],
        "contexts": [
            {"name": context, "context": {"cluster": "fake-cluster", "user": "fake-user", "namespace": namespace}}
        ],
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
