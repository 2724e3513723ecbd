"""The scheduler runs fake runners (the ScheduledRunner protocol, an interface we own) on one clock."""

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from perf_tests.errors import RunnerError
from perf_tests.logger.redaction import register_secret
from perf_tests.scheduler import Clock, RunnerExit, ScheduledRunner, Scheduler

TOLERANCE = 0.3  # seconds; two cores shared with other test runs


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
        self.setup_done_at = None  # time.monotonic() when setup returned
        self.stopping = threading.Event()
        self.release = threading.Event()  # lets a runner that ignores stop end at teardown
        self.started_at = None
        self.stop_calls: list[float] = []
        self.returned_at = None

    def setup(self):
        self.stopping.wait(timeout=self.setup_for)
        self.setup_done_at = time.monotonic()

    def execute(self):
        try:
            left = self.clock.monotonic_at(self.start_offset) - time.monotonic()
            if self.stopping.wait(timeout=max(0.0, left)):
                return
            self.started_at = self.clock.elapsed()
            if self.fail is not None:
                raise self.fail
            if self.ignore_stop:
                self.release.wait()
            elif self.work_for is not None:
                self.stopping.wait(timeout=self.work_for)
            else:
                self.stopping.wait()
        finally:
            self.returned_at = self.clock.elapsed()

    def stop(self):
        self.stop_calls.append(self.clock.elapsed())
        self.stopping.set()

    def progress(self):
        return f"{self.name} is busy"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def runners():
    """Created runners; any that ignores stop is released at teardown so its thread ends."""
    made: list[FakeRunner] = []
    yield made
    for runner in made:
        runner.release.set()
        runner.stopping.set()


class AbortLater:
    """Sets ``abort`` after ``delay`` seconds from another thread and keeps when (``time.monotonic()``).

    Timing checks measure from ``at``, the moment abort was really set: on a busy machine the timer itself
    may fire late, which is not the scheduler's doing.
    """

    def __init__(self, abort, delay):
        self.at = None

        def fire():
            self.at = time.monotonic()
            abort.set()

        self._timer = threading.Timer(delay, fire)

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        self._timer.cancel()


def make(runners, *args, **kwargs):
    runner = FakeRunner(*args, **kwargs)
    runners.append(runner)
    return runner


def run(scheduler):
    began = time.monotonic()
    results = scheduler.run()
    return results, time.monotonic() - began


def test_fake_runner_satisfies_the_protocol(clock):
    assert isinstance(FakeRunner("a", clock, 0, 1), ScheduledRunner)


def test_no_runners_no_results(clock):
    assert Scheduler([], clock, threading.Event()).run() == []


def test_entries_start_and_stop_on_time(clock, runners):
    windows = {"a": (0.0, 1.0), "b": (0.5, 1.5), "c": (1.0, 2.0)}
    made = [make(runners, name, clock, start, end) for name, (start, end) in windows.items()]
    results, took = run(Scheduler(made, clock, threading.Event(), progress_interval=None))
    assert results == [RunnerExit(name, ok=True) for name in windows]
    for runner in made:
        assert runner.started_at == pytest.approx(runner.start_offset, abs=TOLERANCE)
        assert len(runner.stop_calls) == 1
        stopped = runner.stop_calls[0]
        assert stopped >= runner.end_offset - 0.02  # never early
        assert stopped == pytest.approx(runner.end_offset, abs=TOLERANCE)
        assert runner.returned_at == pytest.approx(runner.end_offset, abs=TOLERANCE)
    assert 2.0 - 0.05 <= took <= 2.0 + TOLERANCE  # returns as soon as the last runner does


def test_a_runner_that_finishes_early_does_not_wait_for_its_end(clock, runners):
    runner = make(runners, "quick", clock, 0.0, 30.0, work_for=0.2)
    results, took = run(Scheduler([runner], clock, threading.Event(), progress_interval=None))
    assert results == [RunnerExit("quick", ok=True)]
    assert took < 0.2 + TOLERANCE
    assert runner.stop_calls == []


def test_abort_stops_everything(clock, runners):
    abort = threading.Event()
    running = make(runners, "running", clock, 0.0, 30.0)
    waiting = make(runners, "waiting", clock, 20.0, 30.0)
    with AbortLater(abort, 0.5) as later:
        results, _ = run(Scheduler([running, waiting], clock, abort, progress_interval=None))
        ended = time.monotonic()
    assert [r.ok for r in results] == [True, True]
    aborted = later.at - clock.t0_monotonic  # on the shared clock
    react = 0.5 + TOLERANCE  # the scheduler looks at abort at least every 0.5 s
    for runner in (running, waiting):
        assert len(runner.stop_calls) == 1
        assert aborted <= runner.stop_calls[0] <= aborted + react
        assert aborted <= runner.returned_at <= aborted + react
    assert ended - later.at < react
    assert waiting.started_at is None


def test_abort_before_the_run_stops_every_runner_at_once(clock, runners):
    abort = threading.Event()
    abort.set()
    made = [make(runners, name, clock, 0.0, 30.0) for name in ("a", "b")]
    results, took = run(Scheduler(made, clock, abort, progress_interval=None))
    assert all(r.ok for r in results)
    assert took < 0.5 + TOLERANCE


def test_a_failing_runner_is_reported_with_its_message(clock, runners):
    secret = "sched-secret-8e1f"
    register_secret(secret)
    failing = make(runners, "failing", clock, 0.0, 1.0, fail=RuntimeError(f"cannot connect with {secret}"))
    clear = make(runners, "clear", clock, 0.0, 1.0, fail=RunnerError("could not upload the pipeline"))
    fine = make(runners, "fine", clock, 0.0, 1.0)
    results, _ = run(Scheduler([failing, clear, fine], clock, threading.Event(), progress_interval=None))
    assert results == [
        RunnerExit("failing", ok=False, error="RuntimeError: cannot connect with ***"),
        RunnerExit("clear", ok=False, error="could not upload the pipeline"),
        RunnerExit("fine", ok=True),
    ]
    assert fine.stop_calls[0] == pytest.approx(1.0, abs=TOLERANCE)


def test_a_runner_ignoring_stop_is_reported_hung_after_the_grace(clock, runners):
    hung = make(runners, "hung", clock, 0.0, 0.5, ignore_stop=True)
    fine = make(runners, "fine", clock, 0.0, 0.5)
    results, took = run(Scheduler([hung, fine], clock, threading.Event(), stop_grace=0.5, progress_interval=None))
    assert results == [
        RunnerExit("hung", ok=False, error="did not stop within 0.5s of its end time", hung=True),
        RunnerExit("fine", ok=True),
    ]
    assert 0.5 + 0.5 - 0.05 <= took <= 0.5 + 0.5 + 0.5 + TOLERANCE
    assert hung.returned_at is None  # still blocked: abandoned, not waited for


def test_progress_lines(clock, runners):
    abort = threading.Event()
    lines: list[str] = []

    def on_progress(line):
        lines.append(line)
        if len(lines) >= 6:
            abort.set()

    active = make(runners, "active", clock, 0.0, 60.0)
    later = make(runners, "later", clock, 30.0, 60.0)
    results, took = run(Scheduler([active, later], clock, abort, progress_interval=0.2, on_progress=on_progress))
    assert all(r.ok for r in results)
    assert took < 10
    assert any(line.startswith("[active] active is busy (") and line.endswith("s left)") for line in lines)
    assert any(line.startswith("[later] starts in ") for line in lines)
    assert {line.split("]")[0] for line in lines} == {"[active", "[later"}


def test_waiting_after_abort_does_not_spin(clock, runners):
    class Lingering(FakeRunner):
        def execute(self):
            self.stopping.wait()
            self.release.wait(timeout=1.0)  # takes a second to wind down

    abort = threading.Event()
    abort.set()
    runner = Lingering("slow", clock, 0.0, 30.0)
    runners.append(runner)
    cpu = time.thread_time()
    results, took = run(Scheduler([runner], clock, abort, progress_interval=None))
    cpu = time.thread_time() - cpu
    assert results == [RunnerExit("slow", ok=True)]
    assert took >= 0.9
    assert cpu < 0.05, f"the scheduler thread used {cpu:.2f}s of CPU in {took:.2f}s"


def test_slow_setup_does_not_shift_start_times(clock, runners):
    slow = make(runners, "slow", clock, 0.0, 1.0, setup_for=0.8)
    fast = make(runners, "fast", clock, 0.5, 1.0)
    began = time.monotonic()
    results, took = run(Scheduler([slow, fast], clock, threading.Event(), progress_interval=None))
    assert all(r.ok for r in results)
    assert fast.setup_done_at - began < TOLERANCE  # setups run concurrently
    assert clock.t0_monotonic >= slow.setup_done_at  # t0 once every runner has prepared
    assert clock.t0_monotonic - began == pytest.approx(0.8, abs=TOLERANCE)
    assert slow.started_at == pytest.approx(0.0, abs=TOLERANCE)
    assert fast.started_at == pytest.approx(0.5, abs=TOLERANCE)
    assert fast.stop_calls[0] == pytest.approx(1.0, abs=TOLERANCE)
    assert took == pytest.approx(0.8 + 1.0, abs=0.5 + TOLERANCE)


def test_abort_during_setup_stops_everything(clock, runners):
    abort = threading.Event()
    made = [make(runners, name, clock, 0.0, 30.0, setup_for=5.0) for name in ("a", "b")]
    with AbortLater(abort, 0.3) as later:
        results, _ = run(Scheduler(made, clock, abort, progress_interval=None))
        ended = time.monotonic()
    assert all(r.ok for r in results)
    assert ended - later.at < 0.5 + TOLERANCE  # the setup phase looks at abort every 0.5 s at most
    assert all(runner.started_at is None for runner in made)


def test_abort_during_setup_stops_each_runner_once_without_spinning(clock, runners):
    class SlowToStop(FakeRunner):
        def setup(self):
            self.stopping.wait()
            self.release.wait(timeout=0.5)  # setup takes half a second to notice

    abort = threading.Event()
    abort.set()
    runner = SlowToStop("slow", clock, 0.0, 30.0)
    runners.append(runner)
    cpu = time.thread_time()
    results, _ = run(Scheduler([runner], clock, abort, progress_interval=None))
    cpu = time.thread_time() - cpu
    assert results == [RunnerExit("slow", ok=True)]
    assert cpu < 0.05
    assert len(runner.stop_calls) <= 2


HUNG_SCRIPT = textwrap.dedent(
    """
    import threading
    from perf_tests.scheduler import Clock, Scheduler

    class Hung:
        name, start_offset, end_offset = "hung", 0.0, 0.2
        def setup(self):
            pass
        def execute(self):
            threading.Event().wait()  # never returns
        def stop(self):
            pass
        def progress(self):
            return "stuck"

    results = Scheduler([Hung()], Clock(), threading.Event(), stop_grace=0.3, progress_interval=None).run()
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


def test_a_setup_that_ignores_the_abort_is_hung_after_the_grace_and_never_executed(clock, runners):
    class StuckInSetup(FakeRunner):
        def setup(self):
            self.release.wait()  # a blocking call that ignores stop (e.g. a server trickling bytes)

    abort = threading.Event()
    stuck = StuckInSetup("stuck", clock, 0.0, 30.0)
    runners.append(stuck)
    quick = make(runners, "quick", clock, 0.0, 30.0)
    cut_short: list[float] = []
    scheduler = Scheduler([stuck, quick], clock, abort, stop_grace=0.5, progress_interval=None,
                          on_abort_in_setup=lambda: cut_short.append(time.monotonic()))
    with AbortLater(abort, 0.2) as later:
        results, _ = run(scheduler)
        ended = time.monotonic()
    assert ended - later.at < 0.5 + 0.5 + TOLERANCE
    assert len(cut_short) == 1
    assert cut_short[0] - later.at < 0.5 + TOLERANCE
    hung, ok = results
    assert hung.hung and not hung.ok
    assert "did not finish preparing within 0.5s of the interrupt" in (hung.error or "")
    assert stuck.started_at is None and stuck.returned_at is None  # never executed
    assert ok == RunnerExit("quick", ok=True)


def test_an_abort_before_the_run_prepares_nothing(clock, runners):
    abort = threading.Event()
    abort.set()
    made = [make(runners, name, clock, 0.0, 30.0, setup_for=5.0) for name in ("a", "b")]
    results, took = run(Scheduler(made, clock, abort, progress_interval=None))
    assert all(r.ok for r in results)
    assert all(runner.setup_done_at is None for runner in made)  # nothing set up: nothing left on a target
    assert took < 0.5 + TOLERANCE
