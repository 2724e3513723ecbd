"""events.jsonl in one module: every kind of event written by ``event_to_json`` reads back as the same
event with ``event_from_json`` (the round trip ``report`` relies on to rebuild a summary)."""

from __future__ import annotations

import json

import pytest

from perf_tests.recorder.event_codec import event_from_json, event_to_json, line_problem, to_json_line
from perf_tests.recorder.events import AggregateRecord, MetricsRecord, OperationEvent, ScenarioMark
from perf_tests.recorder.stats import new_histogram
from perf_tests.results.status import EntryStatus

T0 = 1_700_000_000.0


def _round_trip(event):
    line = json.loads(to_json_line(event_to_json(event)))
    assert line_problem(line) is None
    return event_from_json(line)


@pytest.mark.parametrize("event", [
    OperationEvent("e", "PIPELINE_RUN", "create_run", T0 + 0.25, 0.125, True, attrs={"state": "SUCCEEDED"}),
    OperationEvent("e", "PIPELINE_RUN", "get_run", T0, 0.5, False, "http_500", "server error"),
    ScenarioMark("e", "PIPELINE_RUN", "finished", T0 + 3, EntryStatus.ERROR, "boom", {"start_lateness_s": 0.1}),
    MetricsRecord("e", "LLM_LOAD", "ttft", T0 + 4, {"count": 3, "p99_ms": 12.5}, "guidellm"),
])
def test_events_read_back_as_written(event):
    assert _round_trip(event) == event


def test_an_aggregate_reads_back_with_its_histograms_and_counts():
    histogram, lateness = new_histogram(), new_histogram()
    histogram.record_value(2000)
    lateness.record_value(300)
    event = AggregateRecord("g", "RANDOM_GETS", "list_runs", int(T0), 1, histogram, errors={"timeout": 2},
                            values={"lateness": lateness}, counters={"dropped": 4}, attrs={"total_size": 9})
    back = _round_trip(event)
    assert isinstance(back, AggregateRecord)
    assert (back.second, back.ok, back.errors, back.counters, back.attrs) == (
        int(T0), 1, {"timeout": 2}, {"dropped": 4}, {"total_size": 9})
    assert back.histogram.get_total_count() == 1 and back.values["lateness"].get_total_count() == 1


def test_a_nan_statistic_is_written_as_null():
    line = to_json_line(event_to_json(MetricsRecord("e", "LLM_LOAD", "itl", T0, {"max_ms": float("nan")})))
    assert json.loads(line)["stats"]["max_ms"] is None
