"""``GET /metrics``: the simulator's Prometheus metrics, in the names the KFP API server uses where it has them.

The real API server exports go-grpc-prometheus metrics for every gRPC call (``apiserver/main.go``
``startRPCServer``: ``grpc_server_started_total``, ``grpc_server_handled_total{grpc_code,...}`` and the
``grpc_server_handling_seconds`` histogram with buckets 5 ms … 5 min) and object gauges
(``run_server_run_count``, ``experiment_server_run_count``, ``pipeline_server_pipeline_count``,
``pipeline_server_pipeline_version_count``, ``job_server_job_count``), so one PromQL query serves a cluster
and the simulator. Their HTTP-only endpoints (uploads, healthz) are not gRPC calls and are not in those.
The simulator adds its own, under ``kfp_simulator_``: requests by route and HTTP status, latency
histograms by route, runs by state and table sizes. Everything is per server (its own registry).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from perf_tests.server.errors import GrpcCode

__all__ = ["CONTENT_TYPE", "SimulatorMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Prometheus text exposition format."""

_GRPC_BUCKETS = (0.005, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 15, 30, 60, 120, 300)
_HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SERVICE = "kubeflow.pipelines.backend.api.v2beta1."
_HTTP_TO_GRPC_CODE = {200: "OK", 400: "InvalidArgument", 401: "Unauthenticated", 403: "PermissionDenied",
                      404: "NotFound", 409: "AlreadyExists", 500: "Internal", 501: "Unimplemented",
                      503: "Unavailable"}  # fmt: skip

# Route (as the router names it, without the /apis/v2beta1 prefix) → gRPC service and method.
_RPC: dict[str, tuple[str, str]] = {
    "POST pipelines/create": ("PipelineService", "CreatePipelineAndVersion"),
    "POST pipelines": ("PipelineService", "CreatePipeline"),
    "GET pipelines": ("PipelineService", "ListPipelines"),
    "GET pipelines/names/{name}": ("PipelineService", "GetPipelineByName"),
    "GET pipelines/{pipeline_id}": ("PipelineService", "GetPipeline"),
    "DELETE pipelines/{pipeline_id}": ("PipelineService", "DeletePipeline"),
    "PATCH pipelines/{pipeline_id}": ("PipelineService", "UpdatePipeline"),
    "POST pipelines/{pipeline_id}/versions": ("PipelineService", "CreatePipelineVersion"),
    "GET pipelines/{pipeline_id}/versions": ("PipelineService", "ListPipelineVersions"),
    "GET pipelines/{pipeline_id}/versions/{pipeline_version_id}": ("PipelineService", "GetPipelineVersion"),
    "PATCH pipelines/{pipeline_id}/versions/{pipeline_version_id}": ("PipelineService", "UpdatePipelineVersion"),
    "DELETE pipelines/{pipeline_id}/versions/{pipeline_version_id}": ("PipelineService", "DeletePipelineVersion"),
    "POST experiments": ("ExperimentService", "CreateExperiment"),
    "GET experiments": ("ExperimentService", "ListExperiments"),
    "GET experiments/{experiment_id}": ("ExperimentService", "GetExperiment"),
    "DELETE experiments/{experiment_id}": ("ExperimentService", "DeleteExperiment"),
    "POST experiments/{experiment_id}:archive": ("ExperimentService", "ArchiveExperiment"),
    "POST experiments/{experiment_id}:unarchive": ("ExperimentService", "UnarchiveExperiment"),
    "POST runs": ("RunService", "CreateRun"),
    "GET runs": ("RunService", "ListRuns"),
    "GET runs/{run_id}": ("RunService", "GetRun"),
    "DELETE runs/{run_id}": ("RunService", "DeleteRun"),
    "POST runs/{run_id}:terminate": ("RunService", "TerminateRun"),
    "POST runs/{run_id}:retry": ("RunService", "RetryRun"),
    "POST runs/{run_id}:archive": ("RunService", "ArchiveRun"),
    "POST runs/{run_id}:unarchive": ("RunService", "UnarchiveRun"),
    "POST recurringruns": ("RecurringRunService", "CreateRecurringRun"),
    "GET recurringruns": ("RecurringRunService", "ListRecurringRuns"),
    "GET recurringruns/{recurring_run_id}": ("RecurringRunService", "GetRecurringRun"),
    "DELETE recurringruns/{recurring_run_id}": ("RecurringRunService", "DeleteRecurringRun"),
    "POST recurringruns/{recurring_run_id}:enable": ("RecurringRunService", "EnableRecurringRun"),
    "POST recurringruns/{recurring_run_id}:disable": ("RecurringRunService", "DisableRecurringRun"),
}

_KFP_GAUGES = (
    ("run_server_run_count", "runs", "runs"),
    ("experiment_server_run_count", "experiments", "experiments"),
    ("pipeline_server_pipeline_count", "pipelines", "pipelines"),
    ("pipeline_server_pipeline_version_count", "pipeline_versions", "pipeline versions"),
    ("job_server_job_count", "recurring_runs", "jobs"),
)
"""The API server's object gauges (``run_server.go``, ``experiment_server.go``, ...): name, table, help."""

Snapshot = Callable[[], tuple[dict[str, int], dict[str, int]]]
"""Returns (object counts by table, run counts by state) at scrape time."""


class _ObjectsCollector(Collector):
    """Gauges read from the store at scrape time: table sizes and runs by state."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts, states = self._snapshot()
        tables = GaugeMetricFamily("kfp_simulator_objects", "Stored objects by table.", labels=["table"])
        for table, count in sorted(counts.items()):
            tables.add_metric([table], count)
        yield tables
        runs = GaugeMetricFamily("kfp_simulator_runs", "Runs by current state.", labels=["state"])
        for state, count in sorted(states.items()):
            runs.add_metric([state], count)
        yield runs
        for name, table, what in _KFP_GAUGES:
            text = f"The current number of {what} in Kubeflow Pipelines instance"
            yield GaugeMetricFamily(name, text, value=counts.get(table, 0))


class SimulatorMetrics:
    """The per-server registry; :meth:`observe` is called once per answered ``/apis/...`` request."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._requests = Counter(
            "kfp_simulator_http_requests",
            "API requests answered, by route template and HTTP status.",
            ["route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "kfp_simulator_http_request_duration_seconds",
            "Time from reading a request to its answer (injected latency included), by route template.",
            ["route"],
            buckets=_HTTP_BUCKETS,
            registry=self.registry,
        )
        grpc_labels = ["grpc_type", "grpc_service", "grpc_method"]
        self._grpc_started = Counter(
            "grpc_server_started", "Total number of RPCs started on the server.", grpc_labels, registry=self.registry
        )
        self._grpc_handled = Counter(
            "grpc_server_handled",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            [*grpc_labels, "grpc_code"],
            registry=self.registry,
        )
        self._grpc_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
            grpc_labels,
            buckets=_GRPC_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_ObjectsCollector(snapshot))
        self._children: dict[tuple[str, int, GrpcCode | None], tuple[Any, ...]] = {}

    def observe(self, route: str, status: int, seconds: float, grpc_code: GrpcCode | None = None) -> None:
        """Count one answered request of ``route`` (e.g. ``GET /apis/v2beta1/runs``) and its latency."""
        key = (route, status, grpc_code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._make_children(route, status, grpc_code)
        requests, latency, started, handled, grpc_seconds = children
        requests.inc()
        latency.observe(seconds)
        if started is not None:
            started.inc()
            handled.inc()
            grpc_seconds.observe(seconds)

    def _make_children(self, route: str, status: int, grpc_code: GrpcCode | None) -> tuple[Any, ...]:
        requests = self._requests.labels(route, str(status))
        latency = self._latency.labels(route)
        method, _, path = route.partition(" ")
        rpc = _RPC.get(f"{method} {path.removeprefix('/apis/v2beta1/')}")
        if rpc is None:
            return requests, latency, None, None, None
        labels = ("unary", _SERVICE + rpc[0], rpc[1])
        code = _grpc_code_name(grpc_code) if grpc_code is not None else _HTTP_TO_GRPC_CODE.get(status, "Unknown")
        return (
            requests,
            latency,
            self._grpc_started.labels(*labels),
            self._grpc_handled.labels(*labels, code),
            self._grpc_seconds.labels(*labels),
        )

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def _grpc_code_name(code: GrpcCode) -> str:
    """``codes.Code.String()``: ``InvalidArgument``, ``NotFound``, ..."""
    return "".join(part.title() for part in code.name.split("_")).replace("Ok", "OK")
