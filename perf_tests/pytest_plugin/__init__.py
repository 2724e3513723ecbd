"""The pytest plugin: options, the session-scoped run, one test item per scenario entry, the summary."""

from perf_tests.pytest_plugin.plugin import PerfEntry, assert_entry_passed

__all__ = ["PerfEntry", "assert_entry_passed"]
