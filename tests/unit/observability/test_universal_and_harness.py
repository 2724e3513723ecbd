"""Series into the llm-d universal report v0.2.1 (valid against its schema); the generator's health verdict."""

import asyncio
import threading

import pytest

from perf_tests.observability.harness import HarnessFinding, HarnessMonitor, HarnessReport, HarnessSample, merge_reports
from perf_tests.observability.models import EntryObservation, QueryResult, Series, Window, aggregate
from perf_tests.observability.universal import observability_section
from perf_tests.scheduler import Clock, FakeTime


def _query(name, values):
    series = [Series(values=[(1_700_000_000.0 + i, v) for i, v in enumerate(values)])]
    return QueryResult(name=name, expr="x", status="ok", aggregate=aggregate(series), series=series)


def test_the_section_validates_against_the_bundled_schema():
    pytest.importorskip("jsonschema")
    from perf_tests.llm.results.universal_report import validate_universal_report

    observation = EntryObservation(entry="e", status="ok", step_s=1, windows=[Window(name="e", start=0, end=3, queries=[
        _query("running", [0, 2, 3]), _query("waiting", [0, 0, 1]), _query("kv_cache", [0.1, 0.2, 0.25]),
        _query("ready_replicas", [1, 2, 2]), _query("desired_replicas", [2, 2, 2]), _query("ttft_p95", [0.1])])])
    section = observability_section(observation, "prometheus/e.json")
    assert section is not None
    series = section["components"][0]["time_series"]
    assert [p["value"] for p in series["kv_cache_usage"]["series"]] == [10.0, 20.0, 25.0]
    assert series["num_requests_running"]["units"] == "count"
    assert "ttft_p95" not in str(series)  # no field for it in v0.2.1: it stays in prometheus/e.json
    replicas = section["replica_status"]
    assert replicas["aggregate_ready_replicas"]["max"] == 2
    assert replicas["time_series"][0]["controllers"][0]["desired_replicas"] == 2
    report = {"version": "0.2.1", "run": {"uid": "u", "eid": "e", "time": {"start": "2024-01-01T00:00:00Z"}},
              "scenario": {}, "results": {"observability": section}}
    problems = validate_universal_report(report) or []
    assert not [p for p in problems if "observability" in p], problems


def test_nothing_mapped_is_no_section():
    observation = EntryObservation(entry="e", status="ok", windows=[Window(name="e", start=0, end=1,
                                                                           queries=[_query("other", [1])])])
    assert observability_section(observation, "x") is None
    assert observability_section(EntryObservation(entry="e", status="not_configured"), "x") is None


def _monitor(cpus, lags=None):
    monitor = HarnessMonitor()
    monitor.samples = [HarnessSample(t=float(i), cpu=c, rss_mb=100, connections=2,
                                     loop_lag_ms={"r": (lags or [0] * len(cpus))[i]}) for i, c in enumerate(cpus)]
    return monitor


def test_a_busy_generator_is_saturated_and_says_why():
    report = _monitor([0.2, 0.95, 0.97, 0.99, 0.3]).report()
    assert report.saturated
    assert "CPU of the load generator reached 97% of one core" in report.reasons[0]


def test_one_busy_second_or_a_quiet_run_is_not_saturated():
    assert not _monitor([0.2, 1.0, 0.2, 0.1]).report().saturated
    assert _monitor([0.1] * 5, lags=[1, 2, 500, 1, 1]).report().loop_lag_p99_ms == {"r": 500}


def test_a_late_loop_is_saturated():
    report = _monitor([0.1] * 3, lags=[1, 250, 300]).report()
    assert report.saturated and "event-loop lag p99 300ms" in report.reasons[0]


def test_a_busy_process_concerns_the_entries_that_ran_while_it_was_busy():
    report = _monitor([0.2, 0.95, 0.97, 0.99, 0.3]).report()  # samples at t = 0..4, each the second before it
    (finding,) = report.findings
    assert (finding.entry, finding.start, finding.end) == (None, 0.0, 3.0)
    assert report.reasons_for("during", 2.0, 5.0) == report.reasons
    assert report.reasons_for("after", 3.5, 10.0) == []
    assert report.reasons_for("unknown window") == report.reasons  # when it ran is not known: it may have


def test_an_entry_s_own_lag_or_lateness_concerns_that_entry_only():
    report = _monitor([0.1] * 3, lags=[1, 250, 300]).report()  # the runner named "r"
    assert report.reasons_for("r", 0.0, 2.0) == report.reasons
    assert report.reasons_for("other", 0.0, 2.0) == []
    assert report.saturation("other", None) == ""
    assert "event-loop lag p99 300ms" in report.saturation("r", None)


def test_merged_findings_name_their_shard_and_keep_what_they_concern():
    report = HarnessReport()
    report.add(HarnessFinding(reason="gets: send lateness p99 250ms (above 100ms)", entry="gets"))
    merged = merge_reports({"0/2": HarnessReport(), "1/2": report})
    assert merged is not None and merged.saturated
    assert merged.reasons_for("gets") == ["shard 1/2: gets: send lateness p99 250ms (above 100ms)"]
    assert merged.reasons_for("runs") == []


def test_a_report_written_before_findings_existed_gives_every_reason_to_every_entry():
    old = HarnessReport(saturated=True, reasons=["CPU of the load generator reached 97% of one core"])
    assert old.reasons_for("any", 0.0, 1.0) == old.reasons


def test_the_monitor_samples_a_running_loop_on_the_run_clock_and_stops():
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    class Runner:
        name = "runner"
        event_loop = loop

    async def settle() -> None:
        """Nothing: once it ran, the probe scheduled on the loop before it has run too."""

    thread = threading.Thread(target=lambda: (loop.call_soon(ready.set), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(5)
    fake = FakeTime()
    clock = Clock(fake)
    monitor = HarnessMonitor(interval=1.0, clock=clock)
    monitor.start([Runner()])
    for _ in range(4):  # one sample a second of the run clock
        fake.step(blocked=1)
        fake.wait_blocked(1)  # the monitor sampled and waits for the next second
        asyncio.run_coroutine_threadsafe(settle(), loop).result(timeout=5)
    monitor.stop()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
    # Each sample's wall time is the run clock's, from the same reading as its span.
    assert [sample.t for sample in monitor.samples] == [clock.wall_at(s) for s in (1.0, 2.0, 3.0, 4.0)]
    assert all("runner" in sample.loop_lag_ms for sample in monitor.samples[1:])  # probed one second, read the next
    report = monitor.report()
    assert "runner" in report.loop_lag_p99_ms
    assert report.rss_max_mb and report.rss_max_mb > 10
    assert report.cpu_max is not None
