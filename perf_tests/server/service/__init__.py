"""KFP v2beta1 semantics over the store: validation, defaults, ids, run simulation and recurring runs.

Each public method serves one endpoint: it takes the decoded path, query and body, and returns the JSON
text to answer with, or raises :class:`~perf_tests.server.errors.ApiError`. Nothing here knows about
HTTP, so the behaviour is testable without a socket; :mod:`perf_tests.server.app` does the HTTP.

One module per resource, each adding its endpoints to the shared core (``base.ServiceBase``):

- ``experiments``: ``ExperimentsService``.
- ``pipelines``: ``PipelinesService`` (pipelines and their versions).
- ``runs``: ``RunsService`` (and the pipeline source, runtime config and experiment a run body names).
- ``recurring_runs``: ``RecurringRunsService`` (and firing the due ones).

``KfpService`` is all of them together.
"""

from perf_tests.server.service.base import EMPTY, Query, ServiceBase
from perf_tests.server.service.experiments import ExperimentsService
from perf_tests.server.service.pipelines import PipelinesService
from perf_tests.server.service.recurring_runs import RecurringRunsService
from perf_tests.server.service.runs import RunsService

__all__ = [
    "EMPTY",
    "ExperimentsService",
    "KfpService",
    "PipelinesService",
    "Query",
    "RecurringRunsService",
    "RunsService",
    "ServiceBase",
]


class KfpService(RecurringRunsService, RunsService, ExperimentsService, PipelinesService):
    """The simulated KFP API server, minus HTTP: every resource's endpoints over one store."""
