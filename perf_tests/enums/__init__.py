"""Enumerations shared across the framework."""

from perf_tests.enums.test_mode import Outcome, TestMode

__all__ = ["Outcome", "TestMode"]
