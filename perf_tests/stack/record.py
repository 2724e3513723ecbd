"""What a stack deployed and how it came up: ``StackRecord``, written to summary.json and the universal report.

A record says what was deployed (kind, image, model, server arguments, replicas, and per replica the
node and accelerator where the API says), each replica's start-up (created, scheduled, ready, and the
seconds from scheduled to ready), the readiness transitions seen while waiting (``starting``, ``ready``,
``not-ready``, ``stopped``, ...) and what was created and deleted. ``universal_stack`` maps it onto the
llm-d benchmark report v0.2.1: ``scenario.stack`` (one ``inference_engine`` component) and
``results.observability.pod_startup_times`` / ``replica_status``.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["CreatedObject", "ReadinessTransition", "ReplicaRecord", "StackRecord", "iso", "universal_stack"]


def iso(epoch: float | None) -> str | None:
    """An epoch time as RFC 3339 UTC with milliseconds (None stays None)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ReadinessTransition(BaseModel):
    """One change of the stack's readiness as seen while waiting or at teardown."""

    at: float = Field(description="Epoch seconds.")
    state: str = Field(description="starting, scheduled, ready, not-ready, failed, stopping or stopped.")
    replica: str | None = Field(default=None, description="The replica (pod or process) it concerns; None: the stack.")
    detail: str | None = None


class ReplicaRecord(BaseModel):
    """One server replica: a pod, or the local process."""

    name: str
    node: str | None = None
    accelerator: str | None = Field(default=None, description="From the node's labels (e.g. nvidia.com/gpu.product).")
    created_at: float | None = None
    scheduled_at: float | None = None
    ready_at: float | None = None
    restarts: int = 0

    @property
    def startup_seconds(self) -> float | None:
        """Seconds from scheduled (created when the API does not say) to ready."""
        begin = self.scheduled_at if self.scheduled_at is not None else self.created_at
        if begin is None or self.ready_at is None:
            return None
        return max(0.0, self.ready_at - begin)


class CreatedObject(BaseModel):
    """One object the stack created (and must delete): kind, name, namespace."""

    kind: str
    name: str
    namespace: str | None = None
    api_version: str = "v1"


class StackRecord(BaseModel):
    """Everything recorded about one entry's stack (``summary.json`` ``attrs.stack``, ``stack.json``)."""

    kind: Literal["local-vllm", "kubernetes"]
    name: str = Field(description="The stack's name (Deployment / process label).")
    url: str | None = Field(default=None, description="Base URL the load went to.")
    image: str | None = None
    model: str
    served_model_name: str
    args: list[str] = Field(default_factory=list, description="The server's full argument list.")
    env: dict[str, str] = Field(default_factory=dict)
    replicas: int = 1
    namespace: str | None = None
    tool_version: str = "unknown"
    replica_records: list[ReplicaRecord] = Field(default_factory=list)
    transitions: list[ReadinessTransition] = Field(default_factory=list)
    created: list[CreatedObject] = Field(default_factory=list)
    deleted: list[CreatedObject] = Field(default_factory=list)
    kept: bool = False
    deploy_started_at: float | None = None
    ready_at: float | None = None
    stopped_at: float | None = None

    def transition(self, at: float, state: str, replica: str | None = None, detail: str | None = None) -> None:
        """Append a transition unless it repeats the last one of the same replica."""
        last = next((t for t in reversed(self.transitions) if t.replica == replica), None)
        if last is None or last.state != state:
            self.transitions.append(ReadinessTransition(at=at, state=state, replica=replica, detail=detail))

    @property
    def ready_seconds(self) -> float | None:
        """Seconds from the start of the deployment to the stack being ready."""
        if self.deploy_started_at is None or self.ready_at is None:
            return None
        return self.ready_at - self.deploy_started_at


def _cfg_id(record: StackRecord) -> str:
    config = {"kind": record.kind, "image": record.image, "model": record.model, "args": record.args,
              "replicas": record.replicas}
    return hashlib.md5(json.dumps(config, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


def _startup_statistics(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)

    def percentile(share: float) -> float:
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    return {"units": "s", "mean": statistics.fmean(ordered), "stddev": statistics.pstdev(ordered),
            "min": ordered[0], "max": ordered[-1], "p50": percentile(0.5), "p90": percentile(0.9),
            "p99": percentile(0.99)}


def universal_stack(record: StackRecord, collected_at: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``scenario.stack`` (a list of components) and ``results.observability`` of the llm-d report v0.2.1."""
    accelerators = {r.accelerator for r in record.replica_records if r.accelerator}
    component = {
        "metadata": {"schema_version": "0.0.1", "label": record.name, "cfg_id": _cfg_id(record),
                     "description": f"{record.kind} stack serving {record.served_model_name}"},
        "standardized": {
            "kind": "inference_engine",
            "tool": "vllm",
            "tool_version": record.tool_version,
            "role": "replica",
            "replicas": max(1, record.replicas),
            "model": {"name": record.served_model_name},
            "accelerator": {
                "model": ", ".join(sorted(accelerators)) or "cpu",
                "count": len([r for r in record.replica_records if r.accelerator]),
                "parallelism": {"tp": 1, "dp": 1, "dp_local": 1, "workers": 1, "ep": 1, "pp": 1},
            },
        },
        "native": {
            "args": {"argv": list(record.args)},
            "envars": dict(record.env),
            "config": {"kind": record.kind, "image": record.image, "model": record.model,
                       "namespace": record.namespace, "url": record.url},
        },
    }
    pods = []
    for replica in record.replica_records:
        pod: dict[str, Any] = {"name": replica.name, "model": record.served_model_name, "role": "replica",
                               "node": replica.node, "creation_timestamp": iso(replica.created_at),
                               "ready_timestamp": iso(replica.ready_at)}
        if replica.startup_seconds is not None:
            pod["startup_seconds"] = round(replica.startup_seconds, 3)
        pods.append(pod)
    startups = [r.startup_seconds for r in record.replica_records if r.startup_seconds is not None]
    pod_startup: dict[str, Any] = {"collected_at": iso(collected_at), "pods": pods}
    if startups:
        pod_startup["aggregate"] = _startup_statistics(startups)
    ready_now = sum(1 for r in record.replica_records if r.ready_at is not None)
    controller = {"kind": "Deployment" if record.kind == "kubernetes" else "Process", "name": record.name,
                  "model": record.served_model_name, "role": "replica", "desired_replicas": record.replicas,
                  "available_replicas": ready_now, "ready_replicas": ready_now}
    series = []
    ready_count = 0
    for change in record.transitions:
        if change.replica is None:
            continue
        ready_count += 1 if change.state == "ready" else -1 if change.state in ("not-ready", "stopped") else 0
        ready_count = max(0, min(record.replicas, ready_count))
        series.append({"timestamp": iso(change.at), "namespace": record.namespace,
                       "controllers": [{**controller, "available_replicas": ready_count,
                                        "ready_replicas": ready_count}]})
    replica_status = {"namespace": record.namespace, "timestamp": iso(record.ready_at or collected_at),
                      "controllers": [controller], "time_series": series or None}
    return [component], {"pod_startup_times": pod_startup, "replica_status": replica_status}
