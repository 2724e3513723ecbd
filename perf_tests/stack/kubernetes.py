"""The ``kubernetes`` stack: a vLLM Deployment and Service (and optionally an InferencePool and an HTTPRoute).

``start`` creates, in order: the namespace (``namespace.create``: a per-run name, labelled), the Deployment
(the vLLM image serving ``model`` as ``servedModelName`` on ``port``, the entry's ``args``, ``env`` and
``resources``, readiness and liveness probes on ``/health``, ``HF_TOKEN`` from the optional Secret
``hf-secret``), the Service, then the manifests given as ``inferencePool`` and ``httpRoute`` (files whose
``${NAME}``, ``${NAMESPACE}``, ``${MODEL_LABEL}``, ``${SERVICE}`` and ``${PORT}`` are replaced). It then
polls the Deployment and its pods until ``replicas`` are ready, recording each pod's created, scheduled
and ready times (the API's condition times) and node (and the node's accelerator label, where the
account may read nodes), and every readiness transition. After ``readyTimeout`` the error names each pod
that is not ready with its phase, its last events and its last log lines.

``stop`` deletes exactly what ``start`` created, newest first (a created namespace last, which takes
everything in it along), also after a failed or cancelled start; ``keep`` leaves it. Every call goes
through ``StackKubeClient`` (one total deadline per call). The load goes to the Service
(``http://<name>.<namespace>.svc.cluster.local:<port>``, reachable from the cluster: the Tekton executor,
or a Tekton Task) or to ``gatewayUrl``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import string
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from perf_tests.errors import RunnerError, TargetError
from perf_tests.logger.redaction import redact
from perf_tests.stack.kube_client import CUSTOM_KINDS, StackKubeClient
from perf_tests.stack.options import StackOptions
from perf_tests.stack.record import CreatedObject, ReplicaRecord, StackRecord
from perf_tests.stack.stack import Stack

__all__ = ["ACCELERATOR_LABELS", "HF_SECRET", "KubernetesStack", "stack_object_name"]

logger = logging.getLogger(__name__)

HF_SECRET = "hf-secret"
"""The optional Secret whose ``HF_TOKEN`` key the server gets (for gated models)."""
ACCELERATOR_LABELS = ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator", "amd.com/gpu.product",
                      "node.kubernetes.io/instance-type")
"""Node labels that say which accelerator a node has, in order of preference."""
MANAGED_BY = "perf-tests"
STACK_LABEL = "perf-tests/stack"
MODEL_LABEL = "llm-d.ai/model"
_EVENTS = 5
_LOG_LINES = 10


def stack_object_name(entry_name: str) -> str:
    """A DNS-label name for an entry's stack objects: the entry's name, cleaned, plus a random suffix."""
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in entry_name.lower()).strip("-")
    cleaned = "-".join(part for part in cleaned.split("-") if part)[:40].strip("-") or "stack"
    return f"{cleaned}-{secrets.token_hex(3)}"


def _epoch(timestamp: Any) -> float | None:
    if not timestamp:
        return None
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()
    return None


def _condition(pod: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


class KubernetesStack(Stack):
    """An entry's ``kubernetes`` stack (see the module docstring)."""

    def __init__(self, options: StackOptions, name: str, client: StackKubeClient | None = None,
                 poll_interval: float = 2.0, base_dir: Path | None = None) -> None:
        super().__init__(options, stack_object_name(name))
        self.entry_name = name
        self._client = client
        self.poll_interval = poll_interval
        self.base_dir = base_dir or Path.cwd()
        self.namespace = ""
        self._url = ""
        self._lock = threading.Lock()
        self._manifests: list[dict[str, Any]] = []

    @property
    def client(self) -> StackKubeClient:
        if self._client is None:
            self._client = StackKubeClient.connect()
        return self._client

    @property
    def url(self) -> str:
        return self._url

    # -- lifecycle ------------------------------------------------------------------------------------------
    def check(self) -> None:
        self._manifests = []
        for field, path in (("inferencePool", self.options.inference_pool), ("httpRoute", self.options.http_route)):
            if path is None:
                continue
            file = Path(path).expanduser()
            file = file if file.is_absolute() else self.base_dir / file
            try:
                text = file.read_text(encoding="utf-8")
            except OSError as exc:
                raise RunnerError(f"stack.{field}: cannot read {file} ({exc.strerror or exc})") from None
            self._manifests.append({"field": field, "file": file, "text": text})
        self.client  # noqa: B018 - connect now: a missing kubeconfig is an error before anything runs

    def start(self, cancel: threading.Event | None = None) -> str:
        options = self.options
        client = self.client
        record = StackRecord(kind="kubernetes", name=self.name, image=options.image, model=str(options.model),
                             served_model_name=options.served_model_name or str(options.model),
                             env=options.shown_env, replicas=options.replicas, deploy_started_at=time.time())
        with self._lock:
            self.record = record
        if options.namespace.create:
            self.namespace = f"{options.namespace.name or 'perf-stack'}-{secrets.token_hex(3)}"
        else:
            self.namespace = options.namespace.name or client.default_namespace
        record.namespace = self.namespace
        record.args = self._server_args()
        record.transition(time.time(), "starting")
        try:
            if options.namespace.create:
                self._create(CreatedObject(kind="Namespace", name=self.namespace), lambda: client.create_namespace(
                    self.namespace, {"app.kubernetes.io/managed-by": MANAGED_BY, STACK_LABEL: self.name}))
            self._create(CreatedObject(kind="Deployment", name=self.name, namespace=self.namespace,
                                       api_version="apps/v1"),
                         lambda: client.create_deployment(self.namespace, self._deployment()))
            self._create(CreatedObject(kind="Service", name=self.name, namespace=self.namespace),
                         lambda: client.create_service(self.namespace, self._service()))
            for body in self._custom_objects():
                self._create(CreatedObject(kind=body["kind"], name=body["metadata"]["name"], namespace=self.namespace,
                                           api_version=body["apiVersion"]),
                             functools.partial(client.create_custom, self.namespace, body))
            self._wait_ready(record, cancel)
        except BaseException as exc:
            record.transition(time.time(), "failed", detail=redact(str(exc)).splitlines()[0][:200] if str(exc) else
                              type(exc).__name__)
            raise
        self._record_nodes(record)
        self._url = options.gateway_url or f"http://{self.name}.{self.namespace}.svc.cluster.local:{options.port}"
        record.url = self._url
        return self._url

    def stop(self) -> None:
        with self._lock:
            record = self.record
        if record is None or record.stopped_at is not None:
            return
        if self.options.keep and record.ready_at is not None:
            record.kept = True
            return
        record.transition(time.time(), "stopping")
        try:
            self.teardown(record)
        finally:
            record.stopped_at = time.time()
            for replica in record.replica_records:
                record.transition(record.stopped_at, "stopped", replica.name)
            record.transition(record.stopped_at, "stopped")

    def teardown(self, record: StackRecord) -> None:
        """Delete ``record.created`` newest first, each once; every deletion is tried, failures raised together."""
        problems: list[str] = []
        for obj in reversed(list(record.created)):
            if obj in record.deleted:
                continue
            try:
                self._delete(obj)
            except TargetError as exc:
                problems.append(str(exc))
                continue
            record.deleted.append(obj)
        if problems:
            raise TargetError("tearing the stack down failed: " + "; ".join(problems))

    # -- objects --------------------------------------------------------------------------------------------
    def _create(self, obj: CreatedObject, call: Callable[[], None]) -> None:
        """Create ``obj``, listed as created *before* the call: an interrupt while the answer is on its way
        must not leave it behind (deleting a name that was never created is a no-op). A refusal by the API
        (``TargetError``) removes it again."""
        assert self.record is not None
        self.record.created.append(obj)
        try:
            call()
        except TargetError:
            self.record.created.remove(obj)
            raise

    def _delete(self, obj: CreatedObject) -> None:
        client = self.client
        if obj.kind == "Namespace":
            client.delete_namespace(obj.name)
        elif obj.kind == "Deployment":
            client.delete_deployment(str(obj.namespace), obj.name)
        elif obj.kind == "Service":
            client.delete_service(str(obj.namespace), obj.name)
        else:
            client.delete_custom(str(obj.namespace), obj.kind, obj.api_version, obj.name)

    def _labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/managed-by": MANAGED_BY,
                STACK_LABEL: self.name, MODEL_LABEL: self.options.model_label}

    def _server_args(self) -> list[str]:
        options = self.options
        return ["--model", str(options.model), "--served-model-name", options.served_model_name or str(options.model),
                "--port", str(options.port), *options.args]

    def _deployment(self) -> dict[str, Any]:
        options = self.options
        labels = self._labels()
        probe = {"httpGet": {"path": "/health", "port": options.port}, "periodSeconds": 5, "failureThreshold": 3}
        env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in options.env.items()]
        if "HF_TOKEN" not in options.env:
            env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": HF_SECRET, "key": "HF_TOKEN",
                                                                            "optional": True}}})
        container: dict[str, Any] = {
            "name": "vllm", "image": options.image, "command": ["vllm", "serve"], "args": self._server_args(),
            "ports": [{"name": "http", "containerPort": options.port}], "env": env,
            "readinessProbe": probe, "livenessProbe": {**probe, "initialDelaySeconds": int(options.ready_timeout)},
        }
        if options.resources:
            container["resources"] = options.resources
        return {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": labels},
            "spec": {"replicas": options.replicas, "selector": {"matchLabels": {STACK_LABEL: self.name}},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}},
        }

    def _service(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self._labels()},
            "spec": {"selector": {STACK_LABEL: self.name},
                     "ports": [{"name": "http", "port": self.options.port, "targetPort": self.options.port}]},
        }

    def _custom_objects(self) -> list[dict[str, Any]]:
        values = {"NAME": self.name, "NAMESPACE": self.namespace, "MODEL_LABEL": self.options.model_label,
                  "SERVICE": self.name, "PORT": str(self.options.port)}
        bodies = []
        for manifest in self._manifests:
            text = string.Template(manifest["text"]).safe_substitute(values)
            try:
                documents = [doc for doc in yaml.safe_load_all(text) if doc]
            except yaml.YAMLError as exc:
                raise RunnerError(f"stack.{manifest['field']}: {manifest['file']} is not YAML ({exc})") from None
            for doc in documents:
                if not isinstance(doc, dict) or doc.get("kind") not in CUSTOM_KINDS:
                    kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
                    raise RunnerError(f"stack.{manifest['field']}: {manifest['file']} holds a {kind!r}; only "
                                      f"{', '.join(CUSTOM_KINDS)} are created with a stack")
                metadata = doc.setdefault("metadata", {})
                metadata.setdefault("name", self.name)
                metadata["namespace"] = self.namespace
                metadata.setdefault("labels", {}).update({STACK_LABEL: self.name})
                bodies.append(doc)
        return bodies

    # -- readiness ------------------------------------------------------------------------------------------
    def _wait_ready(self, record: StackRecord, cancel: threading.Event | None) -> None:
        client = self.client
        deadline = time.monotonic() + self.options.ready_timeout
        selector = f"{STACK_LABEL}={self.name}"
        while True:
            pods = client.list_pods(self.namespace, selector)
            self._observe(record, pods)
            deployment = client.get_deployment(self.namespace, self.name)
            ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
            if ready >= self.options.replicas:
                self._observe(record, client.list_pods(self.namespace, selector))  # pods turned ready meanwhile
                record.ready_at = time.time()
                record.transition(record.ready_at, "ready")
                return
            if time.monotonic() >= deadline:
                raise TargetError(self._not_ready_message(pods, ready))
            wait = min(self.poll_interval, max(0.0, deadline - time.monotonic()))
            if cancel is not None and cancel.wait(wait):
                raise RunnerError(f"stack {self.name} in namespace {self.namespace!r} was stopped before it was ready")
            if cancel is None:
                time.sleep(wait)

    def _observe(self, record: StackRecord, pods: list[dict[str, Any]]) -> None:
        now = time.time()
        known = {replica.name: replica for replica in record.replica_records}
        for pod in pods:
            metadata = pod.get("metadata") or {}
            name = str(metadata.get("name"))
            replica = known.get(name)
            if replica is None:
                replica = ReplicaRecord(name=name, created_at=_epoch(metadata.get("creationTimestamp")))
                record.replica_records.append(replica)
                known[name] = replica
            replica.node = (pod.get("spec") or {}).get("nodeName") or replica.node
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            replica.restarts = sum(int(status.get("restartCount") or 0) for status in statuses)
            scheduled = _condition(pod, "PodScheduled")
            if scheduled and scheduled.get("status") == "True" and replica.scheduled_at is None:
                replica.scheduled_at = _epoch(scheduled.get("lastTransitionTime")) or now
                record.transition(replica.scheduled_at, "scheduled", name, replica.node)
            ready = _condition(pod, "Ready")
            if ready and ready.get("status") == "True":
                if replica.ready_at is None:
                    replica.ready_at = _epoch(ready.get("lastTransitionTime")) or now
                record.transition(replica.ready_at, "ready", name)
            elif replica.ready_at is not None:
                record.transition(now, "not-ready", name, ready.get("reason") if ready else None)

    def _not_ready_message(self, pods: list[dict[str, Any]], ready: int) -> str:
        client = self.client
        lines = [f"stack {self.name} in namespace {self.namespace!r} was not ready within "
                 f"{self.options.ready_timeout:g}s (readyTimeout): {ready} of {self.options.replicas} replicas ready"]
        if not pods:
            lines.append("no pod was created; the Deployment's events:")
            lines += self._events(self.name)
        for pod in pods:
            if (_condition(pod, "Ready") or {}).get("status") == "True":
                continue
            name = str((pod.get("metadata") or {}).get("name"))
            phase = (pod.get("status") or {}).get("phase") or "Unknown"
            node = (pod.get("spec") or {}).get("nodeName") or "no node"
            lines.append(f"pod {name} ({phase}, {node}) is not ready; its last events:")
            lines += self._events(name)
            with contextlib.suppress(TargetError):
                log = client.read_log(self.namespace, name, "vllm", _LOG_LINES).strip()
                if log:
                    lines.append(f"  last log lines of {name}:")
                    lines += [f"    {line}" for line in log.splitlines()[-_LOG_LINES:]]
        return redact("\n".join(lines))

    def _events(self, name: str) -> list[str]:
        try:
            events = self.client.list_events(self.namespace, name)
        except TargetError as exc:
            return [f"  (events could not be read: {exc})"]
        if not events:
            return ["  (no events)"]
        return [f"  {e.get('type', '')} {e.get('reason', '')}: {' '.join(str(e.get('message', '')).split())[:300]}"
                for e in events[-_EVENTS:]]

    def _record_nodes(self, record: StackRecord) -> None:
        """Each replica's accelerator from its node's labels (skipped when nodes cannot be read)."""
        nodes: dict[str, str | None] = {}
        for replica in record.replica_records:
            if not replica.node:
                continue
            if replica.node not in nodes:
                try:
                    labels = (self.client.get_node(replica.node).get("metadata") or {}).get("labels") or {}
                except TargetError as exc:
                    logger.info("the accelerator of node %s is not recorded: %s", replica.node, exc)
                    labels = {}
                nodes[replica.node] = next((str(labels[key]) for key in ACCELERATOR_LABELS if key in labels), None)
            replica.accelerator = nodes[replica.node]
