"""The scheduler runs fake runners (the ScheduledRunner protocol, an interface we own) on one clock.

The timing tests run on a fake clock (``FakeTime``): time moves only from one deadline to the next once
every thread waits, so each start, stop and return happens at exactly its planned time. The tests about
CPU use and a hung process run on the real clock.
"""

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from perf_tests.errors import RunnerError
from perf_tests.logger.redaction import register_secret
from perf_tests.scheduler import Clock, FakeTime, RunnerExit, ScheduledRunner, Scheduler, StopToken

# Threads that wait on the clock during a scheduled run: the scheduler's, its runners' and the aborter.
PARTICIPANTS = ("scheduler", "setup-", "runner-", "aborter")


class FakeRunner:
    """Waits for its start on the shared clock, then works until stopped (or fails, or ignores stop)."""

    def __init__(self, name, clock, start, end, *, fail=None, ignore_stop=False, work_for=None, setup_for=0.0):
        self.name = name
        self.start_offset = start
        self.end_offset = end
        self.clock = clock
        self.fail = fail
        self.ignore_stop = ignore_stop
        self.work_for = work_for
        self.setup_for = setup_for
        self.setup_done_at = None  # clock.monotonic() when setup returned
        self.stopping = StopToken()
        self.release = threading.Event()  # lets a runner that ignores stop end at teardown
        self.started_at = None
        self.stop_calls: list[float] = []
        self.stop_reasons: list[str] = []
        self.returned_at = None

    def setup(self):
        self.stopping.wait(self.setup_for, clock=self.clock)
        self.setup_done_at = self.clock.monotonic()

    def execute(self):
        try:
            if self.clock.wait_until(self.stopping.event, self.clock.monotonic_at(self.start_offset)):
                return
            self.started_at = self.clock.elapsed()
            if self.fail is not None:
                raise self.fail
            if self.ignore_stop:
                self.clock.wait(self.release, None)
            else:
                self.stopping.wait(self.work_for, clock=self.clock)
        finally:
            self.returned_at = self.clock.elapsed()

    def stop(self, reason="stopped"):
        self.stop_calls.append(self.clock.elapsed())
        self.stop_reasons.append(reason)
        self.stopping.set(reason)

    def progress(self):
        return f"{self.name} is busy"


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def clock(fake_time):
    return Clock(fake_time)


@pytest.fixture
def runners():
    """Created runners; any that ignores stop is released at teardown so its thread ends."""
    made: list[FakeRunner] = []
    yield made
    for runner in made:
        runner.release.set()
        runner.stopping.set()


def make(runners, *args, **kwargs):
    runner = FakeRunner(*args, **kwargs)
    runners.append(runner)
    return runner


def abort_at(clock, abort, seconds):
    """Set ``abort`` ``seconds`` from now on ``clock``, from another thread (the aborter)."""
    thread = threading.Thread(target=lambda: (clock.wait(threading.Event(), seconds), abort.set("aborted")),
                              name="aborter", daemon=True)
    thread.start()


def participants():
    return sum(1 for thread in threading.enumerate() if thread.name.startswith(PARTICIPANTS))


def drive(fake_time, clock, scheduler):
    """Run the scheduler in its own thread, moving time from deadline to deadline until it returns; its
    results and how long it took on the clock."""
    began = clock.monotonic()
    results: list[RunnerExit] = []
    thread = threading.Thread(target=lambda: results.extend(scheduler.run()), name="scheduler", daemon=True)
    thread.start()
    while fake_time.step(blocked=participants, stop_when=lambda: not thread.is_alive()) is not None:
        pass
    thread.join()
    return results, clock.monotonic() - began


def test_fake_runner_satisfies_the_protocol(clock):
    assert isinstance(FakeRunner("a", clock, 0, 1), ScheduledRunner)


def test_no_runners_no_results(clock):
    assert Scheduler([], clock, StopToken()).run() == []


def test_entries_start_and_stop_on_time(fake_time, clock, runners):
    windows = {"a": (0.0, 1.0), "b": (0.5, 1.5), "c": (1.0, 2.0)}
    made = [make(runners, name, clock, start, end) for name, (start, end) in windows.items()]
    results, took = drive(fake_time, clock, Scheduler(made, clock, StopToken(), progress_interval=None))
    assert results == [RunnerExit(name, ok=True) for name in windows]
    for runner in made:
        assert runner.started_at == runner.start_offset
        assert runner.stop_calls == [runner.end_offset]
        assert runner.stop_reasons == ["end"]
        assert runner.returned_at == runner.end_offset
    assert took == 2.0  # returns as soon as the last runner does


def test_a_runner_that_finishes_early_does_not_wait_for_its_end(fake_time, clock, runners):
    runner = make(runners, "quick", clock, 0.0, 30.0, work_for=0.2)
    results, took = drive(fake_time, clock, Scheduler([runner], clock, StopToken(), progress_interval=None))
    assert results == [RunnerExit("quick", ok=True)]
    assert took == pytest.approx(0.2)  # exact but for float rounding
    assert runner.stop_calls == []


def test_abort_stops_everything_at_once_with_its_reason(fake_time, clock, runners):
    abort = StopToken()
    running = make(runners, "running", clock, 0.0, 30.0)
    waiting = make(runners, "waiting", clock, 20.0, 30.0)
    abort_at(clock, abort, 0.5)
    results, took = drive(fake_time, clock, Scheduler([running, waiting], clock, abort, progress_interval=None))
    assert [r.ok for r in results] == [True, True]
    for runner in (running, waiting):
        assert runner.stop_calls == [0.5]
        assert runner.stop_reasons == ["aborted"]
        assert runner.returned_at == 0.5
    assert took == 0.5
    assert waiting.started_at is None


def test_abort_before_the_run_stops_every_runner_at_once(fake_time, clock, runners):
    abort = StopToken()
    abort.set("interrupted (SIGINT)")
    made = [make(runners, name, clock, 0.0, 30.0) for name in ("a", "b")]
    results, took = drive(fake_time, clock, Scheduler(made, clock, abort, progress_interval=None))
    assert all(r.ok for r in results)
    assert took == 0.0
    assert all(runner.stop_reasons == ["interrupted (SIGINT)"] for runner in made)


def test_a_failing_runner_is_reported_with_its_message(fake_time, clock, runners):
    secret = "sched-secret-8e1f"
    register_secret(secret)
    failing = make(runners, "failing", clock, 0.0, 1.0, fail=RuntimeError(f"cannot connect with {secret}"))
    clear = make(runners, "clear", clock, 0.0, 1.0, fail=RunnerError("could not upload the pipeline"))
    fine = make(runners, "fine", clock, 0.0, 1.0)
    scheduler = Scheduler([failing, clear, fine], clock, StopToken(), progress_interval=None)
    results, _ = drive(fake_time, clock, scheduler)
    assert results == [
        RunnerExit("failing", ok=False, error="RuntimeError: cannot connect with ***"),
        RunnerExit("clear", ok=False, error="could not upload the pipeline"),
        RunnerExit("fine", ok=True),
    ]
    assert fine.stop_calls == [1.0]


def test_a_runner_ignoring_stop_is_reported_hung_after_the_grace(fake_time, clock, runners):
    hung = make(runners, "hung", clock, 0.0, 0.5, ignore_stop=True)
    fine = make(runners, "fine", clock, 0.0, 0.5)
    scheduler = Scheduler([hung, fine], clock, StopToken(), stop_grace=0.5, progress_interval=None)
    results, took = drive(fake_time, clock, scheduler)
    assert results == [
        RunnerExit("hung", ok=False, error="did not stop within 0.5s of its end time", hung=True),
        RunnerExit("fine", ok=True),
    ]
    assert took == 0.5 + 0.5  # its end, then the grace
    assert hung.returned_at is None  # still blocked: abandoned, not waited for


def test_progress_lines(fake_time, clock, runners):
    abort = StopToken()
    lines: list[tuple[float, str]] = []

    def on_progress(line):
        lines.append((round(clock.elapsed(), 6), line))
        if len(lines) >= 6:
            abort.set("enough")

    active = make(runners, "active", clock, 0.0, 60.0)
    later = make(runners, "later", clock, 30.0, 60.0)
    scheduler = Scheduler([active, later], clock, abort, progress_interval=0.2, on_progress=on_progress)
    results, took = drive(fake_time, clock, scheduler)
    assert all(r.ok for r in results)
    assert lines == [
        (0.2, "[active] active is busy (60s left)"), (0.2, "[later] starts in 30s"),
        (0.4, "[active] active is busy (60s left)"), (0.4, "[later] starts in 30s"),
        (0.6, "[active] active is busy (59s left)"), (0.6, "[later] starts in 29s"),
    ]
    assert took == pytest.approx(0.6)


@pytest.fixture
def real_clock():
    return Clock()


def test_waiting_after_abort_does_not_spin(real_clock, runners):
    class Lingering(FakeRunner):
        def execute(self):
            self.stopping.wait()
            self.release.wait(timeout=1.0)  # takes a second to wind down

    abort = StopToken()
    abort.set()
    runner = Lingering("slow", real_clock, 0.0, 30.0)
    runners.append(runner)
    cpu, began = time.thread_time(), time.monotonic()
    results = Scheduler([runner], real_clock, abort, progress_interval=None).run()
    cpu, took = time.thread_time() - cpu, time.monotonic() - began
    assert results == [RunnerExit("slow", ok=True)]
    assert took >= 0.9
    assert cpu < 0.05, f"the scheduler thread used {cpu:.2f}s of CPU in {took:.2f}s"


def test_slow_setup_does_not_shift_start_times(fake_time, clock, runners):
    slow = make(runners, "slow", clock, 0.0, 1.0, setup_for=0.8)
    fast = make(runners, "fast", clock, 0.5, 1.0)
    began = clock.monotonic()
    results, took = drive(fake_time, clock, Scheduler([slow, fast], clock, StopToken(), progress_interval=None))
    assert all(r.ok for r in results)
    assert fast.setup_done_at == began  # set-ups run concurrently
    assert slow.setup_done_at == began + 0.8
    assert clock.t0_monotonic == slow.setup_done_at  # t0 once every runner has prepared
    assert (slow.started_at, fast.started_at) == (0.0, 0.5)
    assert fast.stop_calls == [1.0]
    assert took == pytest.approx(0.8 + 1.0)


def test_abort_during_setup_stops_everything(fake_time, clock, runners):
    abort = StopToken()
    made = [make(runners, name, clock, 0.0, 30.0, setup_for=5.0) for name in ("a", "b")]
    abort_at(clock, abort, 0.3)
    results, took = drive(fake_time, clock, Scheduler(made, clock, abort, progress_interval=None))
    assert all(r.ok for r in results)
    assert took == pytest.approx(0.3)  # at once: the abort wakes the scheduler
    assert all(runner.stop_calls and runner.stop_reasons[0] == "aborted" for runner in made)
    assert all(runner.started_at is None for runner in made)


def test_abort_during_setup_stops_each_runner_once_without_spinning(real_clock, runners):
    class SlowToStop(FakeRunner):
        def setup(self):
            self.stopping.wait()
            self.release.wait(timeout=0.5)  # setup takes half a second to notice

    abort = StopToken()
    abort.set()
    runner = SlowToStop("slow", real_clock, 0.0, 30.0)
    runners.append(runner)
    cpu = time.thread_time()
    results = Scheduler([runner], real_clock, abort, progress_interval=None).run()
    cpu = time.thread_time() - cpu
    assert results == [RunnerExit("slow", ok=True)]
    assert cpu < 0.05
    assert len(runner.stop_calls) <= 2


HUNG_SCRIPT = textwrap.dedent(
    """
    import threading
    from perf_tests.scheduler import Clock, Scheduler, StopToken

    class Hung:
        name, start_offset, end_offset = "hung", 0.0, 0.2
        def setup(self):
            pass
        def execute(self):
            threading.Event().wait()  # never returns
        def stop(self, reason="stopped"):
            pass
        def progress(self):
            return "stuck"

    results = Scheduler([Hung()], Clock(), StopToken(), stop_grace=0.3, progress_interval=None).run()
    print("hung" if results[0].hung else "not hung", flush=True)
    """
)


def test_a_hung_runner_does_not_keep_the_process_alive():
    try:
        result = subprocess.run([sys.executable, "-c", HUNG_SCRIPT], capture_output=True, text=True, timeout=10,
                                check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the process did not exit after the scheduler returned (output: {exc.stdout!r})")
    assert result.stdout.strip() == "hung"
    assert result.returncode == 0


def test_a_setup_that_ignores_the_abort_is_hung_after_the_grace_and_never_executed(fake_time, clock, runners):
    class StuckInSetup(FakeRunner):
        def setup(self):
            self.clock.wait(self.release, None)  # a blocking call that ignores stop (a server trickling bytes)

    abort = StopToken()
    stuck = StuckInSetup("stuck", clock, 0.0, 30.0)
    runners.append(stuck)
    quick = make(runners, "quick", clock, 0.0, 30.0)
    cut_short: list[float] = []
    began = clock.monotonic()
    scheduler = Scheduler([stuck, quick], clock, abort, stop_grace=0.5, progress_interval=None,
                          on_abort_in_setup=lambda: cut_short.append(clock.monotonic() - began))
    abort_at(clock, abort, 0.2)
    results, took = drive(fake_time, clock, scheduler)
    assert took == pytest.approx(0.2 + 0.5)  # the abort, then the grace
    assert cut_short == [pytest.approx(0.2)]  # once, at the abort
    hung, ok = results
    assert hung.hung and not hung.ok
    assert "did not finish preparing within 0.5s of the interrupt" in (hung.error or "")
    assert stuck.started_at is None and stuck.returned_at is None  # never executed
    assert ok == RunnerExit("quick", ok=True)


def test_an_abort_before_the_run_prepares_nothing(fake_time, clock, runners):
    abort = StopToken()
    abort.set()
    made = [make(runners, name, clock, 0.0, 30.0, setup_for=5.0) for name in ("a", "b")]
    results, took = drive(fake_time, clock, Scheduler(made, clock, abort, progress_interval=None))
    assert all(r.ok for r in results)
    assert all(runner.setup_done_at is None for runner in made)  # nothing set up: nothing left on a target
    assert took == 0.0
