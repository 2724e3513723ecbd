"""Scheduling: the shared clock, the runner protocol and the thread-pool scheduler."""

from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.protocol import ScheduledRunner
from perf_tests.scheduler.scheduler import RunnerResult, Scheduler

__all__ = ["Clock", "RunnerResult", "ScheduledRunner", "Scheduler"]
