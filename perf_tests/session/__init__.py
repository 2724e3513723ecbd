"""A test run from scenario file to verdict: ``PerfSession`` and its ``RunOutcome``."""

from perf_tests.session.interrupts import graceful_interrupts
from perf_tests.session.session import PerfSession, RunOutcome, new_run_id

__all__ = ["PerfSession", "RunOutcome", "graceful_interrupts", "new_run_id"]
