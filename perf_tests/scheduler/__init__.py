"""Scheduling: the run clock and its time sources, the stop token, the one lifecycle, the runner protocol
and the thread-pool scheduler.

``FakeTime`` (``fake_clock.py``) is the time source tests drive by hand.
"""

from perf_tests.scheduler.clock import SYSTEM_TIME, Clock, SystemTime, TimeSource
from perf_tests.scheduler.fake_clock import FakeTime
from perf_tests.scheduler.protocol import ScheduledRunner
from perf_tests.scheduler.scheduler import RunnerExit, Scheduler
from perf_tests.scheduler.stop import ABORTED, END, STOPPED, StopToken

__all__ = [
    "ABORTED",
    "END",
    "STOPPED",
    "SYSTEM_TIME",
    "Clock",
    "FakeTime",
    "RunnerExit",
    "ScheduledRunner",
    "Scheduler",
    "StopToken",
    "SystemTime",
    "TimeSource",
]
