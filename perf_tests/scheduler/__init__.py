"""Scheduling: the shared clock, the runner protocol and the thread-pool scheduler."""

from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.protocol import ScheduledRunner
from perf_tests.scheduler.scheduler import RunnerExit, Scheduler

__all__ = ["Clock", "RunnerExit", "ScheduledRunner", "Scheduler"]
