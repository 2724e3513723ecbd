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

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from perf_tests.server.errors import GrpcCode

__all__ = ["CONTENT_TYPE", "SimulatorMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Prometheus text exposition format."""

_GRPC_BUCKETS = (0.005, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 15, 30, 60, 120, 300)
_HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SERVICE = "kubeflow.pipelines.backend.api.v2beta1."
_GRPC_LABELS = ["grpc_type", "grpc_service", "grpc_method"]
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


class _Histogram:
    """One histogram series, kept as plain numbers (observing costs a bisect, not a lock)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        buckets, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), float(running)))
        return buckets


class _Series:
    """What one (route, status, gRPC code) has seen; the histograms are shared per route / per method."""

    __slots__ = ("count", "grpc", "latency", "rpc_latency")

    def __init__(self, latency: _Histogram, grpc: tuple[str, str, str, str] | None, rpc: _Histogram | None) -> None:
        self.count = 0
        self.latency = latency
        self.grpc = grpc
        self.rpc_latency = rpc


class SimulatorMetrics(Collector):
    """The per-server registry. :meth:`observe` (once per answered ``/apis/...`` request) only adds to plain
    numbers; prometheus_client's metric families and text format are built when ``/metrics`` is read."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._series: dict[tuple[str, int, GrpcCode | None], _Series] = {}
        self._latency: dict[str, _Histogram] = {}
        self._rpc_latency: dict[tuple[str, str], _Histogram] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe(self, route: str, status: int, seconds: float, grpc_code: GrpcCode | None = None) -> None:
        """Count one answered request of ``route`` (e.g. ``GET /apis/v2beta1/runs``) and its latency."""
        key = (route, status, grpc_code)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series(route, status, grpc_code)
        series.count += 1
        series.latency.observe(seconds)
        if series.rpc_latency is not None:
            series.rpc_latency.observe(seconds)

    def _new_series(self, route: str, status: int, grpc_code: GrpcCode | None) -> _Series:
        latency = self._latency.setdefault(route, _Histogram(_HTTP_BUCKETS))
        method, _, path = route.partition(" ")
        rpc = _RPC.get(f"{method} {path.removeprefix('/apis/v2beta1/')}")
        if rpc is None:
            return _Series(latency, None, None)
        service = _SERVICE + rpc[0]
        code = _grpc_code_name(grpc_code) if grpc_code is not None else _HTTP_TO_GRPC_CODE.get(status, "Unknown")
        rpc_latency = self._rpc_latency.setdefault((service, rpc[1]), _Histogram(_GRPC_BUCKETS))
        return _Series(latency, ("unary", service, rpc[1], code), rpc_latency)

    def collect(self) -> Iterator[Metric]:
        """The metric families, built at scrape time."""
        requests = CounterMetricFamily(
            "kfp_simulator_http_requests",
            "API requests answered, by route template and HTTP status.",
            labels=["route", "status"],
        )
        started = CounterMetricFamily(
            "grpc_server_started", "Total number of RPCs started on the server.", labels=_GRPC_LABELS
        )
        handled = CounterMetricFamily(
            "grpc_server_handled",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            labels=[*_GRPC_LABELS, "grpc_code"],
        )
        per_method: dict[tuple[str, str, str], int] = {}
        by_route_status: dict[tuple[str, str], int] = {}
        for (route, status, _), series in sorted(self._series.items(), key=lambda item: (item[0][0], item[0][1])):
            by_route_status[(route, str(status))] = by_route_status.get((route, str(status)), 0) + series.count
            if series.grpc is not None:
                handled.add_metric(list(series.grpc), series.count)
                labels = series.grpc[:3]
                per_method[labels] = per_method.get(labels, 0) + series.count
        for labels_and_count in sorted(by_route_status.items()):
            requests.add_metric(list(labels_and_count[0]), labels_and_count[1])
        for labels, count in sorted(per_method.items()):
            started.add_metric(list(labels), count)
        yield requests
        latency = HistogramMetricFamily(
            "kfp_simulator_http_request_duration_seconds",
            "Time from reading a request to its answer (injected latency included), by route template.",
            labels=["route"],
        )
        for route, histogram in sorted(self._latency.items()):
            latency.add_metric([route], histogram.cumulative(), histogram.total)
        yield latency
        yield started
        yield handled
        handling = HistogramMetricFamily(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
            labels=_GRPC_LABELS,
        )
        for (service, method), histogram in sorted(self._rpc_latency.items()):
            handling.add_metric(["unary", service, method], histogram.cumulative(), histogram.total)
        yield handling
        yield from self._objects()

    def _objects(self) -> Iterator[Metric]:
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

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def _grpc_code_name(code: GrpcCode) -> str:
    """``codes.Code.String()``: ``InvalidArgument``, ``NotFound``, ..."""
    return "".join(part.title() for part in code.name.split("_")).replace("Ok", "OK")
