"""Arrival models: when the load engine starts requests.

Open-loop (scheduled) models compute every due time from the start: ``ConstantArrivals``,
``PoissonArrivals`` and ``StagesArrivals`` (stair-steps and ramps). The closed-loop
``ConcurrentArrivals`` keeps N requests in flight.
"""

from perf_tests.load.arrivals.arrival import ArrivalModel, ScheduledArrivals
from perf_tests.load.arrivals.concurrent import ConcurrentArrivals
from perf_tests.load.arrivals.constant import ConstantArrivals
from perf_tests.load.arrivals.poisson import PoissonArrivals
from perf_tests.load.arrivals.stages import Stage, StagesArrivals

__all__ = [
    "ArrivalModel",
    "ConcurrentArrivals",
    "ConstantArrivals",
    "PoissonArrivals",
    "ScheduledArrivals",
    "Stage",
    "StagesArrivals",
]
