"""The Recorder aggregates events; the EventsFileWriter writes each one down at once."""

import json
import logging
import math
import threading

import pytest
from hdrh.histogram import HdrHistogram

from perf_tests.logger.redaction import register_secret
from perf_tests.recorder import (
    AggregateRecord,
    EventHook,
    EventsFileWriter,
    MetricsRecord,
    OperationEvent,
    Recorder,
    ScenarioMark,
    new_histogram,
)
from perf_tests.recorder.stats import to_us
from tests.unit.recorder.recorder_helpers import RESOLUTION, exact_percentile


def op(duration=0.1, ok=True, scenario="s", operation="create_run", start=1000.0, **kwargs):
    error_type = kwargs.pop("error_type", None if ok else "http_500")
    return OperationEvent(scenario, "PIPELINE_RUN", operation, start, duration, ok, error_type, **kwargs)


# -- Recorder --------------------------------------------------------------------------------------


def test_recorder_counts_per_scenario_and_operation(durations_ms):
    recorder = Recorder()
    for i, ms in enumerate(durations_ms):
        recorder(op(ms / 1000.0, start=1000.0 + i * 0.001))
    recorder(op(ok=False, error="boom"))
    recorder(op(ok=False, error_type="timeout"))
    recorder(op(operation="get_run"))
    recorder(op(scenario="other"))
    assert sorted(recorder.scenarios) == ["other", "s"]
    record = recorder.scenarios["s"]
    assert record.mode == "PIPELINE_RUN"
    create = record.operations["create_run"].summary()
    assert (create["count"], create["ok"], create["failed"]) == (len(durations_ms) + 2, len(durations_ms), 2)
    assert create["errors"] == {"http_500": 1, "timeout": 1}
    assert record.operations["get_run"].count == 1
    assert recorder.scenarios["other"].operations["create_run"].count == 1
    for percentile in (50, 90, 95, 99):
        expected = exact_percentile(durations_ms, percentile)
        assert create[f"p{percentile}_ms"] == pytest.approx(expected, rel=RESOLUTION)


def test_recorder_follows_scenario_marks():
    recorder = Recorder()
    recorder(ScenarioMark("s", "EXPERIMENT", "started", 100.0))
    recorder(ScenarioMark("s", "EXPERIMENT", "note", 101.0, message="slow start"))
    recorder(ScenarioMark("s", "EXPERIMENT", "note", 101.5))  # a note without text is not kept
    recorder(ScenarioMark("s", "EXPERIMENT", "finished", 130.0, status="error", message="it broke",
                          attrs={"experiment_id": "e1"}))
    record = recorder.scenarios["s"]
    assert (record.started, record.finished, record.status, record.message) == (100.0, 130.0, "error", "it broke")
    assert record.notes == ["slow start"]
    assert record.attrs == {"experiment_id": "e1"}


def test_recorder_merges_aggregates_with_single_events(durations_ms):
    recorder = Recorder()
    histogram = new_histogram()
    for ms in durations_ms[:500]:
        histogram.record_value(to_us(ms / 1000.0))
    recorder(AggregateRecord("s", "RANDOM_GETS", "get", 1000, 500, histogram, errors={"http_503": 7},
                             counters={"dropped": 3}, attrs={"total_size": 12}))
    for ms in durations_ms[500:]:
        recorder(op(ms / 1000.0, operation="get", start=1001.0))
    stats = recorder.scenarios["s"].operations["get"]
    summary = stats.summary()
    assert (summary["ok"], summary["failed"], summary["dropped"]) == (len(durations_ms), 7, 3)
    assert summary["p90_ms"] == pytest.approx(exact_percentile(durations_ms, 90), rel=RESOLUTION)
    assert stats.latest == {"total_size": 12}


def test_lateness_attribute_becomes_a_value_histogram():
    recorder = Recorder()
    for lateness in (0.001, 0.002, 0.003):
        recorder(op(attrs={"lateness": lateness, "run_id": "r"}))
    recorder(op(attrs={"lateness": "late"}))  # not a number: ignored
    summary = recorder.scenarios["s"].operations["create_run"].summary()
    assert summary["lateness"]["max_ms"] == pytest.approx(3.0, rel=RESOLUTION)
    assert recorder.scenarios["s"].operations["create_run"].latest["run_id"] == "r"


def test_metrics_record_lands_in_external():
    recorder = Recorder()
    recorder(MetricsRecord("llm", "LLM_LOAD", "request", 1000.0, {"count": 10, "p95_ms": 120.0}, source="guidellm"))
    record = recorder.scenarios["llm"]
    assert record.external == {"request": {"count": 10, "p95_ms": 120.0, "source": "guidellm"}}
    assert record.operations == {}
    assert record.mode == "LLM_LOAD"


def test_recorder_is_thread_safe():
    recorder = Recorder()
    hook = EventHook()
    hook.add_listener(recorder)

    def fire(worker):
        for i in range(2000):
            hook.fire(op(0.001 * (i % 50 + 1), ok=i % 10 != 0, scenario=f"s{worker % 2}"))

    threads = [threading.Thread(target=fire, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = [recorder.scenarios[name].operations["create_run"] for name in ("s0", "s1")]
    assert [stats.count for stats in counts] == [4000, 4000]
    assert [stats.failed for stats in counts] == [400, 400]
    assert sum(stats.histogram.get_total_count() for stats in counts) == 7200


# -- EventHook -------------------------------------------------------------------------------------


def test_event_hook_fans_out_in_order_and_removes():
    hook = EventHook()
    seen: list[tuple[str, object]] = []

    def first(event):
        seen.append(("first", event))

    def second(event):
        seen.append(("second", event))

    hook.add_listener(first)
    hook.add_listener(second)
    event = op()
    hook.fire(event)
    hook.remove_listener(first)
    hook.fire(event)
    assert seen == [("first", event), ("second", event), ("second", event)]


def test_a_listener_removing_itself_during_fire_does_not_skip_others():
    hook = EventHook()
    calls: list[str] = []

    def once(event):
        calls.append("once")
        hook.remove_listener(once)

    hook.add_listener(once)
    hook.add_listener(lambda event: calls.append("always"))
    hook.fire(op())
    hook.fire(op())
    assert calls == ["once", "always", "always"]


# -- EventsFileWriter ------------------------------------------------------------------------------


def read_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def strict_json(line):
    def reject(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=reject)


def test_each_event_is_on_disk_before_fire_returns(tmp_path):
    writer = EventsFileWriter(tmp_path / "results" / "events.jsonl")
    try:
        events = [
            op(0.25, attrs={"run_id": "r1"}),
            op(ok=False, error="server said no"),
            ScenarioMark("s", "PIPELINE_RUN", "finished", 1001.0, status="passed"),
        ]
        for number, event in enumerate(events, start=1):
            writer(event)
            lines = read_lines(writer.path)  # the writer is still open
            assert len(lines) == number
        assert writer.lines == 3
        first, failed, mark = lines
        assert first == {"type": "op", "t": 1000.0, "scenario": "s", "mode": "PIPELINE_RUN", "op": "create_run",
                         "ms": 250.0, "ok": True, "attrs": {"run_id": "r1"}}
        assert (failed["ok"], failed["error_type"], failed["error"]) == (False, "http_500", "server said no")
        assert mark == {"type": "scenario", "t": 1001.0, "scenario": "s", "mode": "PIPELINE_RUN",
                        "phase": "finished", "status": "passed"}
    finally:
        writer.close()


def test_aggregate_lines_carry_decodable_histograms(tmp_path, durations_ms):
    writer = EventsFileWriter(tmp_path / "events.jsonl")
    histogram = new_histogram()
    for ms in durations_ms:
        histogram.record_value(to_us(ms / 1000.0))
    lateness = new_histogram()
    lateness.record_value(1500)
    writer(AggregateRecord("s", "RANDOM_GETS", "get", 1000, len(durations_ms), histogram, {"timeout": 2},
                           {"lateness": lateness, "unused": new_histogram()}, {"dropped": 1}))
    writer(AggregateRecord("s", "RANDOM_GETS", "get", 1001, 0, new_histogram(), {"timeout": 1}))
    writer.close()
    full, empty = read_lines(writer.path)
    assert (full["type"], full["t"], full["ok"], full["errors"], full["counters"]) == (
        "agg", 1000, len(durations_ms), {"timeout": 2}, {"dropped": 1})
    decoded = HdrHistogram.decode(full["hist"])
    assert decoded.get_total_count() == len(durations_ms)
    assert decoded.get_value_at_percentile(99) / 1000 == pytest.approx(exact_percentile(durations_ms, 99),
                                                                        rel=RESOLUTION)
    assert set(full["values"]) == {"lateness"}
    assert empty["hist"] is None


def test_metrics_lines(tmp_path):
    writer = EventsFileWriter(tmp_path / "events.jsonl")
    writer(MetricsRecord("llm", "LLM_LOAD", "request", 1000.5, {"p95_ms": 120.0}, source="guidellm"))
    writer.close()
    assert read_lines(writer.path) == [{"type": "metrics", "t": 1000.5, "scenario": "llm", "mode": "LLM_LOAD",
                                        "op": "request", "source": "guidellm", "stats": {"p95_ms": 120.0}}]


def test_errors_and_messages_are_redacted_and_bounded(tmp_path):
    secret = "evt-secret-7c1e0b5a"
    register_secret(secret)
    writer = EventsFileWriter(tmp_path / "events.jsonl")
    writer(op(ok=False, error=f"denied for {secret} " + "x" * 1000))
    writer(op(ok=False, error="header Authorization: Bearer abcdefghijklmnop"))
    writer(ScenarioMark("s", "PIPELINE_RUN", "note", 1.0, message=f"token {secret}"))
    writer.close()
    text = writer.path.read_text(encoding="utf-8")
    assert secret not in text
    assert "abcdefghijklmnop" not in text
    long_error, bearer, note = read_lines(writer.path)
    assert long_error["error"].startswith("denied for *** x")
    assert len(long_error["error"]) == 500
    assert bearer["error"] == "header Authorization: Bearer ***"
    assert note["message"] == "token ***"


def test_events_after_close_are_dropped(tmp_path):
    writer = EventsFileWriter(tmp_path / "events.jsonl")
    writer(op())
    writer.close()
    writer(op())
    writer.close()  # closing twice is fine
    assert writer.lines == 1
    assert len(read_lines(writer.path)) == 1


def test_the_writer_appends_to_an_existing_file(tmp_path):
    path = tmp_path / "events.jsonl"
    for _ in range(2):
        writer = EventsFileWriter(path)
        writer(op())
        writer.close()
    assert len(read_lines(path)) == 2


def test_operation_events_are_logged_failures_as_warnings(tmp_path):
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    events_logger = logging.getLogger("perf_tests.events")
    handler = Collect(level=logging.DEBUG)
    previous = events_logger.level
    events_logger.addHandler(handler)
    events_logger.setLevel(logging.DEBUG)
    writer = EventsFileWriter(tmp_path / "events.jsonl")
    try:
        writer(op(0.0125))
        writer(op(ok=False, error="nope"))
        writer(ScenarioMark("s", "PIPELINE_RUN", "started", 1.0))
    finally:
        writer.close()
        events_logger.removeHandler(handler)
        events_logger.setLevel(previous)
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.INFO, "s create_run 12.5 ms ok"),
        (logging.WARNING, "s create_run 100.0 ms http_500: nope"),
    ]
    extras = vars(records[1])  # the fields a handler gets as LogRecord attributes (logging's ``extra``)
    assert (extras["scenario"], extras["operation"], extras["outcome"]) == ("s", "create_run", "error")


def test_lines_are_strict_json_even_with_non_finite_numbers(tmp_path):
    writer = EventsFileWriter(tmp_path / "events.jsonl")
    writer(MetricsRecord("llm", "LLM_LOAD", "request", 1.0, {"mean_ms": math.nan, "max_ms": math.inf}))
    writer(op(attrs={"ratio": math.nan}))
    writer.close()
    for line in writer.path.read_text(encoding="utf-8").splitlines():
        strict_json(line)
