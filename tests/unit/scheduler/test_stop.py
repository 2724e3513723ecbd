"""The stop token: set once with a reason, from any thread; waited on in threads and awaited on loops."""

import asyncio
import threading

import pytest

from perf_tests.scheduler import Clock, FakeTime, StopToken


def test_the_first_reason_wins_and_later_sets_change_nothing():
    token = StopToken()
    assert (token.is_set(), token.reason) == (False, None)
    assert token.set("interrupted (SIGINT)") is True
    assert token.set("end") is False
    assert (token.is_set(), token.reason) == (True, "interrupted (SIGINT)")


def test_callbacks_run_once_in_the_setting_thread_and_at_once_when_already_set():
    token = StopToken()
    seen: list[str] = []
    token.add_callback(lambda: seen.append(threading.current_thread().name))
    removed = token.add_callback(lambda: seen.append("removed"))
    removed()
    setter = threading.Thread(target=token.set, name="setter")
    setter.start()
    setter.join()
    token.set("again")
    assert seen == ["setter"]
    token.add_callback(lambda: seen.append("late"))
    assert seen == ["setter", "late"]


def test_a_failing_callback_does_not_keep_the_signal_from_the_others(caplog):
    token = StopToken()
    seen: list[int] = []
    def broken():
        raise ZeroDivisionError("observer bug")

    token.add_callback(broken)
    token.add_callback(lambda: seen.append(1))
    token.set()
    assert seen == [1]
    assert "a stop callback failed" in caplog.text


def test_follow_passes_the_parents_reason_on():
    parent, child = StopToken(), StopToken()
    child.follow(parent)
    parent.set("aborted")
    assert child.reason == "aborted"


def test_wait_in_a_thread_on_a_fake_clock_times_out_exactly_when_time_is_moved():
    time = FakeTime()
    clock = Clock(time)
    token = StopToken()
    woke: list[tuple[bool, float]] = []
    waiter = threading.Thread(target=lambda: woke.append((token.wait(2.0, clock=clock), clock.elapsed())))
    waiter.start()
    assert time.step(blocked=1) == clock.monotonic_at(2.0)
    waiter.join(timeout=5)
    assert woke == [(False, 2.0)]


def test_set_from_another_thread_wakes_waiters_on_two_loops_and_a_thread():
    token = StopToken()
    ready = threading.Barrier(4)
    results: list[bool] = []

    async def await_it():
        loop_ready = asyncio.get_running_loop().run_in_executor(None, ready.wait)
        waiting = asyncio.ensure_future(token.wait_async())
        await loop_ready
        results.append(await waiting)

    threads = [threading.Thread(target=asyncio.run, args=(await_it(),)) for _ in range(2)]
    def wait_in_a_thread() -> None:
        ready.wait()
        results.append(token.wait(30))

    threads.append(threading.Thread(target=wait_in_a_thread))
    for thread in threads:
        thread.start()
    ready.wait()
    token.set("end")
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert results == [True, True, True]


def test_wait_async_on_a_fake_clock_returns_false_at_its_deadline():
    time = FakeTime()
    clock = Clock(time)
    token = StopToken()
    outcome: list[tuple[bool, float]] = []

    async def sleeper():
        outcome.append((await token.wait_async(0.25, clock=clock), clock.elapsed()))

    thread = threading.Thread(target=asyncio.run, args=(sleeper(),))
    thread.start()
    time.step(blocked=1)
    thread.join(timeout=5)
    assert outcome == [(False, 0.25)]


@pytest.mark.parametrize("already_set", [True, False])
def test_wait_async_without_timeout_returns_true_once_set(already_set):
    token = StopToken()
    if already_set:
        token.set()

    async def main():
        waiting = asyncio.ensure_future(token.wait_async())
        await asyncio.sleep(0)
        token.set()
        return await waiting

    assert asyncio.run(main()) is True
