"""BaseRunner's lifecycle (prepare, start mark, run, cleanup, finished mark) and AsyncRunner's helpers.

Runners run under the real Scheduler, as in a test run; TEST_SLEEPY (sleepy_mode.py) is the runner.
"""

import threading
import time

import pytest

from perf_tests.logger.redaction import register_secret
from perf_tests.recorder import OperationEvent, ScenarioMark
from perf_tests.runners.base_runner import AsyncRunner
from perf_tests.scheduler import RunnerExit, Scheduler

TOLERANCE = 0.3


def sleepy_runner(sleepy, context, **fields):
    entry = sleepy.SleepyOptions.model_validate({"mode": "TEST_SLEEPY", "startTime": 0, "runTime": "0.5s", **fields})
    if not entry.name:
        entry.name = "sleepy"
    runner = sleepy.SleepyRunner(entry, context)
    context.events.add_listener(
        lambda event: runner.calls.append(f"mark:{event.phase}") if isinstance(event, ScenarioMark) else None
    )
    return runner


def schedule(context, *runners, abort=None, stop_grace=5.0):
    scheduler = Scheduler(list(runners), context.clock, abort or context.abort, stop_grace=stop_grace,
                          progress_interval=None)
    return scheduler.run()


def test_lifecycle_order(sleepy, context, recorder):
    runner = sleepy_runner(sleepy, context)
    assert schedule(context, runner) == [RunnerExit("sleepy", ok=True)]
    assert runner.calls == ["prepare", "mark:started", "run", "cleanup", "mark:finished"]
    record = recorder.scenarios["sleepy"]
    assert record.status == "passed"
    assert record.mode == "TEST_SLEEPY"
    assert record.finished - record.started == pytest.approx(0.5, abs=TOLERANCE)
    naps = record.operations["nap"]
    assert naps.failed == 0
    assert 3 <= naps.ok <= 12  # 50 ms naps for half a second


def test_an_exception_in_run_still_runs_cleanup_and_marks_error(sleepy, context, recorder):
    secret = "runner-secret-4b7d"
    register_secret(secret)
    runner = sleepy_runner(sleepy, context, failIn="run", failMessage=f"lost {secret}")
    (result,) = schedule(context, runner)
    assert result == RunnerExit("sleepy", ok=False, error="RuntimeError: lost ***")
    assert runner.calls == ["prepare", "mark:started", "run", "cleanup", "mark:finished"]
    record = recorder.scenarios["sleepy"]
    assert (record.status, record.message) == ("error", "RuntimeError: lost ***")


def test_a_framework_error_keeps_its_message_without_the_type(sleepy, context, recorder):
    runner = sleepy_runner(sleepy, context, failIn="run", clearError=True, failMessage="pipeline upload refused")
    (result,) = schedule(context, runner)
    assert result.error == "pipeline upload refused"
    assert recorder.scenarios["sleepy"].message == "pipeline upload refused"


def test_an_exception_in_prepare_skips_run_but_cleans_up(sleepy, context, recorder):
    runner = sleepy_runner(sleepy, context, failIn="prepare")
    (result,) = schedule(context, runner)
    assert result == RunnerExit("sleepy", ok=False, error="RuntimeError: the sleeper fell out of bed")
    assert runner.calls == ["prepare", "cleanup", "mark:finished"]
    assert recorder.scenarios["sleepy"].status == "error"


def test_a_failing_cleanup_is_a_note_not_a_failure(sleepy, context, recorder):
    runner = sleepy_runner(sleepy, context, failIn="cleanup")
    assert schedule(context, runner) == [RunnerExit("sleepy", ok=True)]
    record = recorder.scenarios["sleepy"]
    assert record.status == "passed"
    assert record.notes == ["cleanup failed: the sleeper fell out of bed"]
    assert runner.calls[-2:] == ["mark:note", "mark:finished"]


def test_stopped_before_its_start_time_it_does_not_run(sleepy, context, recorder):
    abort = threading.Event()
    runner = sleepy_runner(sleepy, context, startTime="30s", runTime="1s")
    aborted: list[float] = []

    def abort_now():
        aborted.append(time.monotonic())
        abort.set()

    timer = threading.Timer(0.3, abort_now)
    timer.start()
    try:
        assert schedule(context, runner, abort=abort) == [RunnerExit("sleepy", ok=True)]
        assert time.monotonic() - aborted[0] < 0.5 + TOLERANCE  # soon after the abort, not at its start time
    finally:
        timer.cancel()
    assert runner.calls == ["prepare", "mark:note", "cleanup", "mark:finished"]
    record = recorder.scenarios["sleepy"]
    assert record.status == "not_run"
    assert record.notes == ["stopped before its start time"]
    assert record.started is None


def test_runners_start_on_the_shared_clock(sleepy, context, recorder):
    first = sleepy_runner(sleepy, context, name="first", startTime="0s", runTime="1s")
    second = sleepy_runner(sleepy, context, name="second", startTime="0.5s", runTime="0.5s")
    assert all(r.ok for r in schedule(context, first, second))
    t0 = context.clock.t0_wall
    for name, start, end in (("first", 0.0, 1.0), ("second", 0.5, 1.0)):
        record = recorder.scenarios[name]
        assert record.started - t0 == pytest.approx(start, abs=TOLERANCE)
        assert record.finished - t0 == pytest.approx(end, abs=TOLERANCE)


def test_timed_records_failures_with_their_type_and_reraises(sleepy, context, recorder):
    runner = sleepy_runner(sleepy, context)
    with runner.timed("lookup", {"page": 1}) as attrs:
        attrs["found"] = 3
    with pytest.raises(TimeoutError), runner.timed("lookup"):
        raise TimeoutError("read timed out")
    stats = recorder.scenarios["sleepy"].operations["lookup"]
    assert (stats.ok, stats.failed, dict(stats.errors)) == (1, 1, {"timeout": 1})
    assert stats.latest == {"page": 1, "found": 3}


# -- AsyncRunner -----------------------------------------------------------------------------------


class Boom(Exception):
    status = 503
    reason = "Service Unavailable"
    body = '{"message": "try later"}'


@pytest.fixture
def async_runner_class(sleepy):
    class Worker(AsyncRunner):
        """Measures a blocking call every 20 ms until stopped; every third call fails."""

        options_model = sleepy.SleepyOptions

        def __init__(self, entry, context):
            super().__init__(entry, context)
            self.calls = 0
            self.threads: set[str] = set()
            self.results: list[object] = []
            self.stopped_seen_at = None

        def work(self):
            self.calls += 1
            self.threads.add(threading.current_thread().name)
            if self.calls % 3 == 0:
                raise Boom()
            return self.calls

        async def run_async(self):
            while not await self.wait_stopped(0.02):
                self.results.append(await self.measure("work", self.work))
            self.stopped_seen_at = self.context.clock.elapsed()

    return Worker


def test_async_runner_measures_until_stopped(sleepy, context, recorder, async_runner_class):
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="async", start_time=0, run_time="0.6s")
    runner = async_runner_class(entry, context)
    assert schedule(context, runner) == [RunnerExit("async", ok=True)]
    assert runner.stopped_seen_at == pytest.approx(0.6, abs=TOLERANCE)
    stats = recorder.scenarios["async"].operations["work"]
    assert stats.count == runner.calls >= 6
    assert dict(stats.errors) == {"http_503": runner.calls // 3}
    assert None in runner.results  # a failed measure returns None
    assert all(result is None or isinstance(result, int) for result in runner.results)
    assert all(name.startswith("async-io") for name in runner.threads)  # the bounded executor


def test_async_runner_stopped_before_its_loop_starts(sleepy, context, async_runner_class):
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="early", start_time=0, run_time="10s")
    runner = async_runner_class(entry, context)
    runner.stop()
    began = time.monotonic()
    runner.run()  # run() directly: stop() came before the event loop existed
    assert time.monotonic() - began < TOLERANCE
    assert runner.calls == 0


def test_async_runner_stop_from_another_thread_wakes_the_loop(sleepy, context, async_runner_class):
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="waker", start_time=0, run_time="10s")

    class Sleeper(async_runner_class):
        entered = threading.Event()

        async def run_async(self):
            self.entered.set()
            self.woke = await self.sleep(30.0)

    runner = Sleeper(entry, context)
    thread = threading.Thread(target=runner.run)
    began = time.monotonic()
    thread.start()
    assert runner.entered.wait(timeout=5)
    runner.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert runner.woke is True
    assert time.monotonic() - began < 1.0 + TOLERANCE


def test_measured_events_carry_the_entry_name_and_mode(sleepy, context, async_runner_class):
    events: list[OperationEvent] = []
    context.events.add_listener(lambda e: events.append(e) if isinstance(e, OperationEvent) else None)
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="named", start_time=0, run_time="0.2s")
    schedule(context, async_runner_class(entry, context))
    assert events
    assert {(e.scenario, e.mode, e.operation) for e in events} == {("named", "TEST_SLEEPY", "work")}
    failed = [e for e in events if not e.ok]
    assert all(e.error == "HTTP 503 Service Unavailable try later" for e in failed)


def test_time_waiting_for_a_thread_is_queue_wait_not_latency(sleepy, context, recorder, async_runner_class):
    events: list[OperationEvent] = []
    notes: list[str] = []
    context.events.add_listener(lambda e: events.append(e) if isinstance(e, OperationEvent) else None)
    context.events.add_listener(
        lambda e: notes.append(e.message) if isinstance(e, ScenarioMark) and e.phase == "note" else None
    )

    class OneThread(async_runner_class):
        max_blocking_calls = 1

        def slow(self):
            time.sleep(0.2)
            return "ok"

        async def run_async(self):
            import asyncio

            self.results = await asyncio.gather(*(self.measure("slow", self.slow) for _ in range(3)))

    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="queued", start_time=0, run_time="5s")
    runner = OneThread(entry, context)
    runner.run()
    assert runner.results == ["ok", "ok", "ok"]
    waits = sorted(e.attrs["queue_wait"] for e in events)
    # One thread, three 0.2 s calls at once: each took 0.2 s; the second and third waited 0.2 s and 0.4 s.
    assert all(e.duration == pytest.approx(0.2, abs=0.1) for e in events)
    assert waits[0] < 0.05
    assert waits[1] == pytest.approx(0.2, abs=0.1)
    assert waits[2] == pytest.approx(0.4, abs=0.15)
    summary = recorder.scenarios["queued"].operations["slow"].summary()
    assert summary["p99_ms"] < 350  # the latency is the call's own
    assert summary["queue_wait"]["max_ms"] == pytest.approx(400, abs=150)
    # Waiting about as long as the calls take: the entry's notes say the harness was the bottleneck.
    (note,) = notes
    assert note.startswith("slow calls waited ") and "1 blocking-call threads" in note and "queue_wait" in note


def test_short_queue_waits_leave_no_note(sleepy, context, recorder, async_runner_class):
    notes: list[str] = []
    context.events.add_listener(
        lambda e: notes.append(e.message) if isinstance(e, ScenarioMark) and e.phase == "note" else None
    )
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="unqueued", start_time=0, run_time="0.3s")
    schedule(context, async_runner_class(entry, context))
    assert recorder.scenarios["unqueued"].operations["work"].summary()["queue_wait"]["p50_ms"] < 5
    assert notes == []
