"""The run clock: monotonic and wall time from one reading, on a real or a fake time source."""

import threading

import pytest

from perf_tests.scheduler import Clock, FakeTime, SystemTime, TimeSource


def test_wall_time_is_one_reading_plus_a_fixed_offset():
    time = FakeTime(start=50.0, wall_start=1_000_000.0)
    clock = Clock(time)
    time.advance(3.5)
    assert clock.monotonic() == 53.5
    assert clock.wall_now() == 1_000_003.5
    assert clock.wall_of(51.0) == 1_000_001.0
    assert clock.wall_now() - clock.monotonic() == clock.wall_offset


def test_offsets_are_from_t0_which_start_moves():
    time = FakeTime(start=10.0, wall_start=500.0)
    clock = Clock(time)
    time.advance(4.0)
    clock.start()
    time.advance(1.5)
    assert clock.elapsed() == 1.5
    assert clock.monotonic_at(2.0) == 16.0
    assert clock.wall_at(2.0) == 506.0
    assert clock.t0_wall == 504.0


def test_both_sources_are_time_sources():
    assert isinstance(SystemTime(), TimeSource)
    assert isinstance(FakeTime(), TimeSource)


def test_the_real_clock_never_lets_wall_and_monotonic_drift_apart():
    clock = Clock()
    first = clock.wall_now() - clock.monotonic()
    assert clock.wait(threading.Event(), 0.01) is False
    assert clock.wall_now() - clock.monotonic() == pytest.approx(first, abs=1e-5)  # rounding of an epoch only


def test_fake_time_only_moves_forward():
    time = FakeTime()
    with pytest.raises(ValueError, match="only moves forward"):
        time.advance(-1)
    time.advance_to(time.monotonic() - 5)
    assert time.monotonic() == 1000.0


def test_step_jumps_to_the_earliest_deadline_of_the_blocked_waiters():
    time = FakeTime()
    clock = Clock(time)
    woke: dict[str, float] = {}

    def sleep(name, seconds):
        clock.wait(threading.Event(), seconds)
        woke[name] = clock.elapsed()

    threads = [threading.Thread(target=sleep, args=(name, s)) for name, s in (("late", 3.0), ("early", 1.0))]
    for thread in threads:
        thread.start()
    time.step(blocked=2)
    time.step(blocked=1)
    for thread in threads:
        thread.join(timeout=5)
    assert woke == {"early": 1.0, "late": 3.0}
    assert time.blocked() == 0


def test_a_set_event_is_not_blocked_and_wakes_its_waiter():
    time = FakeTime()
    event = threading.Event()
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(time.wait(event, None)))
    thread.start()
    time.wait_blocked(1)
    event.set()
    thread.join(timeout=5)
    assert result == [True]
    assert time.blocked() == 0


def test_waiting_for_waiters_that_never_come_fails_with_what_is_waiting():
    with pytest.raises(AssertionError, match="expected 1 blocked waiters"):
        FakeTime().wait_blocked(1, timeout=0.05)
    with pytest.raises(AssertionError, match="none has a deadline"):
        FakeTime().step(blocked=0, timeout=0.05)
