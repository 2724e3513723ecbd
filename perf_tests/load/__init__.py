"""The open-loop load engine: arrival models, asynchronous HTTP and per-request recording.

An arrival model says when requests start (``ConstantArrivals``, ``PoissonArrivals``,
``StagesArrivals`` on an absolute schedule, or the closed-loop ``ConcurrentArrivals``); a workload
picks and sends each request (``KfpGetsWorkload`` for KFP reads); the ``LoadEngine`` drives one with
the other, counts arrivals it cannot send in time as dropped, and records every attempt's service
time, lateness and corrected latency through a ``PerSecondAggregator``.
"""

from perf_tests.load.arrivals import (
    ArrivalModel,
    ConcurrentArrivals,
    ConstantArrivals,
    PoissonArrivals,
    ScheduledArrivals,
    Stage,
    StagesArrivals,
)
from perf_tests.load.engine import LoadEngine, LoadTotals, Operation, Workload
from perf_tests.load.http import HttpStatusError, get_bytes, kfp_session, open_session
from perf_tests.load.kfp_endpoints import DEFAULT_ENDPOINT_MIX, KFP_ENDPOINTS, KfpEndpoint, KfpGetsWorkload

__all__ = [
    "DEFAULT_ENDPOINT_MIX",
    "KFP_ENDPOINTS",
    "ArrivalModel",
    "ConcurrentArrivals",
    "ConstantArrivals",
    "HttpStatusError",
    "KfpEndpoint",
    "KfpGetsWorkload",
    "LoadEngine",
    "LoadTotals",
    "Operation",
    "PoissonArrivals",
    "ScheduledArrivals",
    "Stage",
    "StagesArrivals",
    "Workload",
    "get_bytes",
    "kfp_session",
    "open_session",
]
