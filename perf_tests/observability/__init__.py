"""Observability: what the target did during each entry (Prometheus), and the load generator's own health.

``PrometheusClient`` talks to the Prometheus HTTP API under total deadlines; ``check_queries`` tries every
query before the load, ``observe_entry`` runs range queries over each entry's windows after it; the models
hold series and aggregates. ``HarnessMonitor`` samples this process every second.
"""

from perf_tests.observability.client import PrometheusClient, PrometheusQueryError
from perf_tests.observability.collect import (
    OBSERVATIONS_FOLDER,
    check_queries,
    not_configured,
    observe_entries,
    observe_entry,
    write_observation,
)
from perf_tests.observability.harness import HarnessMonitor, HarnessReport, HarnessSample
from perf_tests.observability.models import (
    Aggregate,
    EntryObservation,
    EntryQueries,
    QueryResult,
    Series,
    Window,
    aggregate,
)

__all__ = [
    "OBSERVATIONS_FOLDER",
    "Aggregate",
    "EntryObservation",
    "EntryQueries",
    "HarnessMonitor",
    "HarnessReport",
    "HarnessSample",
    "PrometheusClient",
    "PrometheusQueryError",
    "QueryResult",
    "Series",
    "Window",
    "aggregate",
    "check_queries",
    "not_configured",
    "observe_entries",
    "observe_entry",
    "write_observation",
]
