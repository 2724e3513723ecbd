"""A test run from scenario file to verdict: ``PerfSession`` and its ``CompletedRun``."""

from perf_tests.session.interrupts import graceful_interrupts
from perf_tests.session.session import CompletedRun, PerfSession, new_run_id

__all__ = ["CompletedRun", "PerfSession", "graceful_interrupts", "new_run_id"]
