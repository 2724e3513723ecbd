"""The fake Kubernetes API of the Tekton tests, extended with what the ``kubernetes`` stack calls.

``FakeCluster`` is ``FakeKube`` (same server, token, request log and 403 simulation: ``forbidden``
answers as RBAC would, naming the verb) plus namespaces (create, delete), nodes (get, with labels),
Deployments (create, get, delete), Services (create, delete), events (list by ``involvedObject.name``),
HTTPRoutes and InferencePools (create, delete). Pods and their logs are ``FakeKube``'s. A created
Deployment behaves like its controller and the kubelet would: each replica's pod appears at once
(Pending), is scheduled on ``node-a`` after ``schedule_delay`` and turns Ready ``ready_delay`` later, and
the Deployment's ``readyReplicas`` follows; with ``never_ready`` the pod runs but its readiness probe
fails (Warning ``Unhealthy`` events and a log saying why).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.integration.tekton.fake_kube import (
    FAKE_TOKEN,
    SERVICE_ACCOUNT_USER,
    Behaviour,
    FakeKube,
    Request,
    _status,
    now_rfc3339,
    write_kubeconfig,
)

__all__ = ["FAKE_TOKEN", "Behaviour", "FakeCluster", "StackBehaviour", "write_kubeconfig"]

_CUSTOM = {"gateway.networking.k8s.io": "httproutes", "inference.networking.k8s.io": "inferencepools"}


@dataclass
class StackBehaviour:
    """How the fake cluster brings up the stack's pods."""

    schedule_delay: float = 0.2
    ready_delay: float = 1.2
    never_ready: bool = False
    node_labels: dict[str, str] = field(default_factory=lambda: {"nvidia.com/gpu.product": "FAKE-GPU-80GB"})


class FakeCluster(FakeKube):
    """``FakeKube`` plus the stack's resources (see the module docstring)."""

    def __init__(self, token: str = FAKE_TOKEN, behaviour: Behaviour | None = None,
                 stack: StackBehaviour | None = None) -> None:
        super().__init__(token, behaviour)
        self.stack = stack or StackBehaviour()
        self.namespaces: dict[str, dict[str, Any]] = {"default": {"metadata": {"name": "default"}}}
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (resource, namespace, name)
        self.events: list[dict[str, Any]] = []

    # -- routing -----------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        parts = [p for p in request.path.split("/") if p]
        route = self._route(parts)
        if route is None:
            return await super()._dispatch(request)
        group, resource, namespace, name = route
        verb = self._verb(request.method, bool(name), dict(request.query))
        self.requests.append(Request(verb, group, resource, namespace, dict(request.query)))
        if (verb, resource) in self.behaviour.forbidden:
            kind = f"{resource}.{group}" if group else resource
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            return _status(403, "Forbidden",
                           f'{kind} "{name}" is forbidden: User "{SERVICE_ACCOUNT_USER}" cannot {verb} resource '
                           f'"{resource}" in API group "{group}"{where}', {"kind": resource, "group": group})
        if verb == "create":
            return await self._create(request, group, resource, namespace)
        if verb == "delete":
            return self._delete(group, resource, namespace, name)
        if verb == "get":
            key = (resource, namespace, name)
            if resource == "nodes":
                return web.json_response({"apiVersion": "v1", "kind": "Node",
                                          "metadata": {"name": name, "labels": dict(self.stack.node_labels)}})
            if key not in self.objects:
                return _status(404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource})
            return web.json_response(self.objects[key])
        if verb == "list" and resource == "events":
            wanted = request.query.get("fieldSelector", "").removeprefix("involvedObject.name=")
            items = [e for e in self.events if e["metadata"]["namespace"] == namespace
                     and e["involvedObject"]["name"] == wanted]
            return web.json_response({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": items})
        return _status(405, "MethodNotAllowed", f"the fake does not implement {verb} {resource}")

    @staticmethod
    def _route(parts: list[str]) -> tuple[str, str, str, str] | None:
        """(group, resource, namespace, name) of a stack route, or None for FakeKube's own routes."""
        if parts[:2] == ["api", "v1"]:
            if len(parts) in (3, 4) and parts[2] == "namespaces":
                return "", "namespaces", "", parts[3] if len(parts) == 4 else ""
            if len(parts) == 4 and parts[2] == "nodes":
                return "", "nodes", "", parts[3]
            if len(parts) in (5, 6) and parts[2] == "namespaces" and parts[4] in ("services", "events"):
                return "", parts[4], parts[3], parts[5] if len(parts) == 6 else ""
            return None
        if parts[:3] == ["apis", "apps", "v1"] and len(parts) in (6, 7) and parts[5] == "deployments":
            return "apps", "deployments", parts[4], parts[6] if len(parts) == 7 else ""
        if len(parts) in (6, 7) and parts[0] == "apis" and _CUSTOM.get(parts[1]) == parts[5]:
            return parts[1], parts[5], parts[4], parts[6] if len(parts) == 7 else ""
        return None

    # -- objects -----------------------------------------------------------------------------------------
    async def _create(self, request: web.Request, group: str, resource: str, namespace: str) -> web.StreamResponse:
        body = await request.json()
        metadata = body.setdefault("metadata", {})
        name = metadata.get("name", "")
        if resource == "namespaces":
            if name in self.namespaces:
                return _status(409, "AlreadyExists", f'namespaces "{name}" already exists')
            self.namespaces[name] = body
            return web.json_response(body, status=201)
        if namespace not in self.namespaces:
            return _status(404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace,
                                                                                  "kind": "namespaces"})
        if (resource, namespace, name) in self.objects:
            return _status(409, "AlreadyExists", f'{resource} "{name}" already exists')
        metadata.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339())
        self.objects[(resource, namespace, name)] = body
        if resource == "deployments":
            body["status"] = {"replicas": 0, "readyReplicas": 0}
            for number in range(int(body["spec"].get("replicas", 1))):
                self._spawn(self._run_pod(namespace, body, number))
        return web.json_response(body, status=201)

    def _delete(self, group: str, resource: str, namespace: str, name: str) -> web.StreamResponse:
        if resource == "namespaces":
            if self.namespaces.pop(name, None) is None:
                return _status(404, "NotFound", f'namespaces "{name}" not found', {"name": name, "kind": "namespaces"})
            for object_key in [k for k in self.objects if k[1] == name]:
                del self.objects[object_key]
            for pod_key in [k for k in self.pods if k[0] == name]:
                del self.pods[pod_key]
            return web.json_response({"kind": "Status", "status": "Success"})
        if self.objects.pop((resource, namespace, name), None) is None:
            return _status(404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource})
        if resource == "deployments":
            for pod_key, pod in list(self.pods.items()):
                if pod_key[0] == namespace and pod["metadata"].get("ownerName") == name:
                    del self.pods[pod_key]
        return web.json_response({"kind": "Status", "status": "Success"})

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, namespace: str, name: str, kind: str, reason: str, message: str) -> None:
        self.events.append({"metadata": {"namespace": namespace, "name": f"{name}.{uuid.uuid4().hex[:8]}"},
                            "involvedObject": {"kind": "Pod", "name": name, "namespace": namespace},
                            "type": kind, "reason": reason, "message": message, "lastTimestamp": now_rfc3339()})

    async def _run_pod(  # type: ignore[override]  # a Deployment's pods, not a TaskRun's
        self, namespace: str, deployment: dict[str, Any], number: int
    ) -> None:
        behaviour = self.stack
        owner = deployment["metadata"]["name"]
        name = f"{owner}-{uuid.uuid4().hex[:5]}-{number}"
        template = deployment["spec"]["template"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": namespace, "labels": dict(template["metadata"]["labels"]),
                            "creationTimestamp": now_rfc3339(), "ownerName": owner},
               "spec": copy.deepcopy(template["spec"]),
               "status": {"phase": "Pending", "conditions": []}}
        self.pods[(namespace, name)] = pod
        await asyncio.sleep(behaviour.schedule_delay)
        if (namespace, name) not in self.pods:
            return
        pod["spec"]["nodeName"] = "node-a"
        pod["status"]["conditions"].append({"type": "PodScheduled", "status": "True",
                                            "lastTransitionTime": now_rfc3339()})
        self._event(namespace, name, "Normal", "Scheduled", f"Successfully assigned {namespace}/{name} to node-a")
        pod["status"]["phase"] = "Running"
        image = pod["spec"]["containers"][0].get("image", "")
        pod["status"]["containerStatuses"] = [{"name": "vllm", "ready": False, "restartCount": 0, "image": image,
                                               "imageID": "", "state": {"running": {"startedAt": now_rfc3339()}}}]
        self.logs[(namespace, name, "vllm")] = "INFO Starting vLLM API server\nINFO Loading model weights\n"
        await asyncio.sleep(behaviour.ready_delay)
        if (namespace, name) not in self.pods:
            return
        if behaviour.never_ready:
            pod["status"]["conditions"].append({"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                                                "lastTransitionTime": now_rfc3339()})
            self.logs[(namespace, name, "vllm")] += "ERROR CUDA out of memory while loading the model\n"
            self._event(namespace, name, "Warning", "Unhealthy",
                        "Readiness probe failed: Get \"http://10.0.0.7:8000/health\": connect: connection refused")
            return
        pod["status"]["conditions"].append({"type": "Ready", "status": "True", "lastTransitionTime": now_rfc3339()})
        pod["status"]["containerStatuses"][0]["ready"] = True
        status = deployment["status"]
        status["readyReplicas"] = status.get("readyReplicas", 0) + 1
        status["availableReplicas"] = status["readyReplicas"]

    # -- assertions --------------------------------------------------------------------------------------
    def leftovers(self) -> list[tuple[str, str, str]]:
        """Stack objects still there (namespace 'default' aside), and pods."""
        found = list(self.objects)
        found += [("namespaces", "", name) for name in self.namespaces if name != "default"]
        found += [("pods", ns, name) for (ns, name) in self.pods]
        return found
