"""The performance test: ``SCENARIO_FILE_NAME=nightly.json pytest test_performance.py``.

Each scenario entry is its own test item (``test_scenario[<entry name>]``); all entries run together
once, on one shared clock, the first time an item needs the results.
"""

from __future__ import annotations

from perf_tests.pytest_plugin import assert_entry_passed
from perf_tests.thresholds import EntryVerdict


class TestPerformance:
    def test_scenario(self, perf_verdict: EntryVerdict) -> None:
        assert_entry_passed(perf_verdict)
