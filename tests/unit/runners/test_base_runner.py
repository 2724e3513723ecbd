"""BaseRunner's lifecycle (prepare, start mark, run, cleanup, finished mark) and AsyncRunner's helpers.

Runners run under the real Scheduler, as in a test run; TEST_SLEEPY (sleepy_mode.py) is the runner. The
run clock is fake (``fake_time``): time moves from one deadline to the next once every thread waits, so
marks, naps, stops and queue waits are exact.
"""

import asyncio
import threading

import pytest

from perf_tests.logger.redaction import register_secret
from perf_tests.recorder import OperationEvent, ScenarioMark
from perf_tests.runners.base_runner import AsyncRunner
from perf_tests.scheduler import RunnerExit, Scheduler, StopToken

# Threads that wait on the clock while a runner is scheduled: the scheduler's, the runners' and the aborter.
PARTICIPANTS = ("scheduler", "setup-", "runner-", "aborter")


def participants():
    return sum(1 for thread in threading.enumerate() if thread.name.startswith(PARTICIPANTS))


def drive(fake_time, work, blocked=participants):
    """Call ``work`` in a thread, moving fake time from deadline to deadline (once ``blocked`` waiters
    wait) until it returns; its result."""
    out = []
    thread = threading.Thread(target=lambda: out.append(work()), name="scheduler", daemon=True)
    thread.start()
    while fake_time.step(blocked=blocked, stop_when=lambda: not thread.is_alive()) is not None:
        pass
    thread.join()
    return out[0]


def sleepy_runner(sleepy, context, **fields):
    entry = sleepy.SleepyOptions.model_validate({"mode": "TEST_SLEEPY", "startTime": 0, "runTime": "0.52s",
                                                 **fields})
    if not entry.name:
        entry.name = "sleepy"
    runner = sleepy.SleepyRunner(entry, context)
    context.events.add_listener(
        lambda event: runner.calls.append(f"mark:{event.phase}") if isinstance(event, ScenarioMark) else None
    )
    return runner


def schedule(context, fake_time, *runners, abort=None, stop_grace=5.0, blocked=participants):
    scheduler = Scheduler(list(runners), context.clock, abort or context.abort, stop_grace=stop_grace,
                          progress_interval=None)
    return drive(fake_time, scheduler.run, blocked)


def test_lifecycle_order(sleepy, context, recorder, fake_time):
    runner = sleepy_runner(sleepy, context)
    assert schedule(context, fake_time, runner) == [RunnerExit("sleepy", ok=True)]
    assert runner.calls == ["prepare", "mark:started", "run", "cleanup", "mark:finished"]
    record = recorder.scenarios["sleepy"]
    assert record.status == "passed"
    assert record.mode == "TEST_SLEEPY"
    assert record.started == context.clock.t0_wall
    assert record.finished - record.started == pytest.approx(0.52, abs=1e-6)  # to the microsecond
    naps = record.operations["nap"]
    assert (naps.ok, naps.failed) == (11, 0)  # ten 50 ms naps, and the eleventh cut short by the stop


def test_an_exception_in_run_still_runs_cleanup_and_marks_error(sleepy, context, recorder, fake_time):
    secret = "runner-secret-4b7d"
    register_secret(secret)
    runner = sleepy_runner(sleepy, context, failIn="run", failMessage=f"lost {secret}")
    (result,) = schedule(context, fake_time, runner)
    assert result == RunnerExit("sleepy", ok=False, error="RuntimeError: lost ***")
    assert runner.calls == ["prepare", "mark:started", "run", "cleanup", "mark:finished"]
    record = recorder.scenarios["sleepy"]
    assert (record.status, record.message) == ("error", "RuntimeError: lost ***")


def test_a_framework_error_keeps_its_message_without_the_type(sleepy, context, recorder, fake_time):
    runner = sleepy_runner(sleepy, context, failIn="run", clearError=True, failMessage="pipeline upload refused")
    (result,) = schedule(context, fake_time, runner)
    assert result.error == "pipeline upload refused"
    assert recorder.scenarios["sleepy"].message == "pipeline upload refused"


def test_an_exception_in_prepare_skips_run_but_cleans_up(sleepy, context, recorder, fake_time):
    runner = sleepy_runner(sleepy, context, failIn="prepare")
    (result,) = schedule(context, fake_time, runner)
    assert result == RunnerExit("sleepy", ok=False, error="RuntimeError: the sleeper fell out of bed")
    assert runner.calls == ["prepare", "cleanup", "mark:finished"]
    assert recorder.scenarios["sleepy"].status == "error"


def test_a_failing_cleanup_is_a_note_not_a_failure(sleepy, context, recorder, fake_time):
    runner = sleepy_runner(sleepy, context, failIn="cleanup")
    assert schedule(context, fake_time, runner) == [RunnerExit("sleepy", ok=True)]
    record = recorder.scenarios["sleepy"]
    assert record.status == "passed"
    assert record.notes == ["cleanup failed: the sleeper fell out of bed"]
    assert runner.calls[-2:] == ["mark:note", "mark:finished"]


def test_stopped_before_its_start_time_it_does_not_run(sleepy, context, recorder, fake_time):
    abort = StopToken()
    runner = sleepy_runner(sleepy, context, startTime="30s", runTime="1s")

    def abort_later():
        context.clock.wait(threading.Event(), 0.3)
        abort.set("interrupted (SIGTERM)")

    threading.Thread(target=abort_later, name="aborter", daemon=True).start()
    assert schedule(context, fake_time, runner, abort=abort) == [RunnerExit("sleepy", ok=True)]
    assert context.clock.elapsed() == pytest.approx(0.3)  # at the abort, not at its start time
    assert runner.calls == ["prepare", "mark:note", "cleanup", "mark:finished"]
    assert runner.stopping.reason == "interrupted (SIGTERM)"
    record = recorder.scenarios["sleepy"]
    assert record.status == "not_run"
    assert record.notes == ["stopped before its start time"]
    assert record.started is None
    assert record.finished == pytest.approx(context.clock.wall_at(0.3), abs=1e-6)


def test_runners_start_on_the_shared_clock(sleepy, context, recorder, fake_time):
    first = sleepy_runner(sleepy, context, name="first", startTime="0s", runTime="1s")
    second = sleepy_runner(sleepy, context, name="second", startTime="0.5s", runTime="0.5s")
    assert all(r.ok for r in schedule(context, fake_time, first, second))
    t0 = context.clock.t0_wall
    for name, start, end in (("first", 0.0, 1.0), ("second", 0.5, 1.0)):
        record = recorder.scenarios[name]
        assert record.started - t0 == pytest.approx(start, abs=1e-6)
        assert record.finished - t0 == pytest.approx(end, abs=1e-6)


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
# On the fake clock, blocked = the scheduler's wait + one sleeping task of the runner's loop.
SCHEDULER_AND_ONE_TASK = 2


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


def test_async_runner_measures_until_stopped(sleepy, context, recorder, async_runner_class, fake_time):
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="async", start_time=0, run_time="0.61s")
    runner = async_runner_class(entry, context)
    assert schedule(context, fake_time, runner, blocked=SCHEDULER_AND_ONE_TASK) == [RunnerExit("async", ok=True)]
    assert runner.stopped_seen_at == pytest.approx(0.61)
    stats = recorder.scenarios["async"].operations["work"]
    assert stats.count == runner.calls == 30  # one call every 20 ms for 0.61 s
    assert dict(stats.errors) == {"http_503": 10}
    assert runner.results.count(None) == 10  # a failed measure returns None
    assert all(result is None or isinstance(result, int) for result in runner.results)
    assert all(name.startswith("async-io") for name in runner.threads)  # the bounded executor


def test_async_runner_stopped_before_its_loop_starts(sleepy, context, async_runner_class):
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="early", start_time=0, run_time="10s")
    runner = async_runner_class(entry, context)
    runner.stop()
    runner.run()  # run() directly: stop() came before the event loop existed; no time has to pass
    assert runner.calls == 0
    assert runner.stopped_seen_at == 0.0


def test_an_async_runner_exposes_the_loop_it_runs_on(sleepy, context, async_runner_class):
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="loop", start_time=0, run_time="10s")

    class Looks(async_runner_class):  # type: ignore[misc,valid-type]  # a class from a fixture
        async def run_async(self):
            self.seen = (self.event_loop, asyncio.get_running_loop())

    runner = Looks(entry, context)
    assert runner.event_loop is None  # not yet running
    runner.run()
    seen, running = runner.seen
    assert seen is running


def test_async_runner_stop_from_another_thread_wakes_the_loop(sleepy, context, async_runner_class, fake_time):
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="waker", start_time=0, run_time="10s")

    class Sleeper(async_runner_class):  # type: ignore[misc,valid-type]  # a class from a fixture
        async def run_async(self):
            self.woke = await self.sleep(30.0)

    runner = Sleeper(entry, context)
    thread = threading.Thread(target=runner.run)
    thread.start()
    fake_time.wait_blocked(1)  # asleep on the clock
    runner.stop("end")
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert runner.woke is True
    assert context.clock.elapsed() == 0.0  # woken by the stop, not by its 30 s passing
    assert runner.stopped_at == context.clock.monotonic()


def test_measured_events_carry_the_entry_name_and_mode(sleepy, context, async_runner_class, fake_time):
    events: list[OperationEvent] = []
    context.events.add_listener(lambda e: events.append(e) if isinstance(e, OperationEvent) else None)
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="named", start_time=0, run_time="0.21s")
    schedule(context, fake_time, async_runner_class(entry, context), blocked=SCHEDULER_AND_ONE_TASK)
    assert len(events) == 10
    assert {(e.scenario, e.mode, e.operation) for e in events} == {("named", "TEST_SLEEPY", "work")}
    assert [e.start for e in events] == pytest.approx([context.clock.wall_at(0.02 * n) for n in range(1, 11)],
                                                      abs=1e-6)  # each at its time on the run clock
    failed = [e for e in events if not e.ok]
    assert len(failed) == 3
    assert all(e.error == "HTTP 503 Service Unavailable try later" for e in failed)


def test_time_waiting_for_a_thread_is_queue_wait_not_latency(sleepy, context, recorder, async_runner_class,
                                                             fake_time):
    events: list[OperationEvent] = []
    notes: list[str] = []
    context.events.add_listener(lambda e: events.append(e) if isinstance(e, OperationEvent) else None)
    context.events.add_listener(
        lambda e: notes.append(e.message or "") if isinstance(e, ScenarioMark) and e.phase == "note" else None
    )

    submitted = threading.Event()  # all three calls are in the executor's queue: time may move

    class OneThread(async_runner_class):  # type: ignore[misc,valid-type]  # a class from a fixture
        max_blocking_calls = 1

        def slow(self):
            submitted.wait(timeout=10)
            self.context.clock.wait(threading.Event(), 0.2)
            return "ok"

        async def run_async(self):
            import asyncio

            calls = [asyncio.ensure_future(self.measure("slow", self.slow)) for _ in range(3)]
            await asyncio.sleep(0)  # each call is submitted
            submitted.set()
            self.results = await asyncio.gather(*calls)

    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="queued", start_time=0, run_time="5s")
    runner = OneThread(entry, context)
    drive(fake_time, runner.run, blocked=1)  # the one blocking-call thread, in its 0.2 s call
    assert runner.results == ["ok", "ok", "ok"]
    # One thread, three 0.2 s calls at once: each took 0.2 s; the second and third waited 0.2 s and 0.4 s.
    assert [e.duration for e in events] == pytest.approx([0.2, 0.2, 0.2])
    assert [(e.attrs or {})["queue_wait"] for e in events] == pytest.approx([0.0, 0.2, 0.4])
    summary = recorder.scenarios["queued"].operations["slow"].summary()
    assert summary["p99_ms"] == pytest.approx(200, rel=0.01)  # the latency is the call's own
    assert summary["queue_wait"]["max_ms"] == pytest.approx(400, rel=0.01)
    # Waiting about as long as the calls take: the entry's notes say the harness was the bottleneck.
    (note,) = notes
    assert note.startswith("slow calls waited 200 ms on average (longest 400 ms)")
    assert "1 blocking-call threads" in note and "queue_wait" in note


def test_short_queue_waits_leave_no_note(sleepy, context, recorder, async_runner_class, fake_time):
    notes: list[str] = []
    context.events.add_listener(
        lambda e: notes.append(e.message or "") if isinstance(e, ScenarioMark) and e.phase == "note" else None
    )
    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="unqueued", start_time=0, run_time="0.31s")
    schedule(context, fake_time, async_runner_class(entry, context), blocked=SCHEDULER_AND_ONE_TASK)
    assert recorder.scenarios["unqueued"].operations["work"].summary()["queue_wait"]["max_ms"] <= 0.001  # 0 ± a bucket
    assert notes == []


def test_an_exchange_narrows_the_latency_and_the_rest_is_harness_delay(sleepy, context, recorder,
                                                                         async_runner_class, fake_time):
    from perf_tests.load.exchange import Exchange

    events: list[OperationEvent] = []
    context.events.add_listener(lambda e: events.append(e) if isinstance(e, OperationEvent) else None)

    class Exchanging(async_runner_class):  # type: ignore[misc,valid-type]  # a class from a fixture
        async def call(self, exchange, fail):
            now = self.context.clock.monotonic
            await self.sleep(0.01)  # the client builds the request
            exchange.sent_at = now()
            await self.sleep(0.2)  # the target answers
            exchange.read_at = now()
            await self.sleep(0.03)  # the loop gets round to the answer, the client parses it
            if fail:
                raise Boom()
            return "ok"

        async def run_async(self):
            requested = self.context.clock.monotonic()
            await self.sleep(0.05)  # waiting for a slot
            self.results = []
            for fail in (False, True):
                exchange = Exchange()
                outcome = await self.attempt_async("exchange", lambda e=exchange, f=fail: self.call(e, f),
                                                   requested_at=requested, exchange=exchange)
                self.results.append(outcome.result)
                requested = self.context.clock.monotonic()
            plain = await self.attempt_async("plain", lambda: self.call(Exchange(), False))
            self.results.append(plain.result)

    entry = sleepy.SleepyOptions(mode="TEST_SLEEPY", name="exchanged", start_time=0, run_time="5s")
    runner = Exchanging(entry, context)
    drive(fake_time, runner.run, blocked=1)
    assert runner.results == ["ok", None, "ok"]
    first, failed, plain = events
    assert first.attrs is not None and failed.attrs is not None and plain.attrs is not None
    # The latency is the exchange's own 0.2 s; before it, the slot and the request's building are queue_wait;
    # after it, the 0.03 s until the harness had the answer is harness_delay, not latency.
    assert (first.duration, first.attrs["queue_wait"], first.attrs["harness_delay"]) == pytest.approx((0.2, 0.06, 0.03))
    assert first.start == pytest.approx(context.clock.wall_at(0.06), abs=1e-6)
    assert not failed.ok and failed.error_type == "http_503"
    failed_times = (failed.duration, failed.attrs["queue_wait"], failed.attrs["harness_delay"])
    assert failed_times == pytest.approx((0.2, 0.01, 0.03))
    # Without an exchange, the whole call is the latency, as before.
    assert plain.duration == pytest.approx(0.24) and "harness_delay" not in plain.attrs
    summary = recorder.scenarios["exchanged"].operations["exchange"].summary()
    assert summary["harness_delay"]["max_ms"] == pytest.approx(30, rel=0.01)
