"""The embedded KFP simulator: a local server speaking the KFP v2beta1 REST API as ``kfp.Client`` uses it.

No cluster, no pipelines actually run: pipelines, experiments, runs and recurring runs live in SQLite,
runs move PENDING → RUNNING → SUCCEEDED/FAILED on simulated time, recurring runs fire on their
schedule, and latency, 5xx answers, dropped connections and hung requests can be injected. Start it
in-process with :class:`EmbeddedKfpServer` (tests, dry runs; ``isolation="process"`` for a child process
with its own GIL) or standalone with ``python -m perf_tests.server --port 8888``. It identifies itself
as the "embedded KFP simulator" (``X-Perf-Tests-Target: embedded-kfp-simulator`` on every answer,
``GET /_admin/info``).
"""

from perf_tests.server.app import SERVER_VERSION, TABLE_SIZE_NOTE, TARGET_HEADER, TARGET_NAME, KfpSimulatorApp
from perf_tests.server.config import SimulatorConfig, multi_user_settings
from perf_tests.server.embedded import EmbeddedKfpServer, EventLoopKind, Isolation
from perf_tests.server.store import Store

__all__ = [
    "SERVER_VERSION",
    "TABLE_SIZE_NOTE",
    "TARGET_HEADER",
    "TARGET_NAME",
    "EmbeddedKfpServer",
    "EventLoopKind",
    "Isolation",
    "KfpSimulatorApp",
    "SimulatorConfig",
    "Store",
    "multi_user_settings",
]
