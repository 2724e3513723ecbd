"""PollLimiter: a FIFO rate cap on the run clock whose waiters cost nothing while they wait.

The limiter runs on an event loop in its own thread; the test moves a fake clock (``FakeTime.step``:
jump to the next timer once the loop is idle), so every grant time is exact.
"""

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from perf_tests.runners.poll_limiter import PollLimiter
from perf_tests.scheduler import Clock, FakeTime


class LoopThread:
    """An event loop in a thread, for a test to drive the fake clock from the main thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="limiter-loop", daemon=True)
        self.thread.start()

    def call(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` on the loop and return its result (waits for the loop, in real time)."""
        async def call() -> Any:
            return function()
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def loop_thread():
    running = LoopThread()
    yield running
    running.close()


def test_waiters_are_served_in_arrival_order_exactly_at_the_rate(loop_thread):
    fake = FakeTime()
    clock = Clock(fake)
    served: list[tuple[int, float]] = []
    limiter = loop_thread.call(lambda: PollLimiter(rate=1000, burst=1, clock=clock))

    async def poll(number):
        async with limiter:
            served.append((number, clock.elapsed()))

    tasks: list[asyncio.Task[None]] = []
    loop_thread.call(lambda: tasks.extend(loop_thread.loop.create_task(poll(n)) for n in range(100)))
    for _ in range(10):  # ten more are served, one timer at a time; the rest wait in line
        fake.step(blocked=1)
    # 100 newcomers join the line while the first hundred still wait: none may overtake them.
    assert loop_thread.call(lambda: 0 < len(served) < 100)
    loop_thread.call(lambda: tasks.extend(loop_thread.loop.create_task(poll(n)) for n in range(100, 200)))
    while loop_thread.call(lambda: len(served)) < 200:
        fake.step(blocked=1)
    assert [number for number, _ in served] == list(range(200))
    # The first goes at once (a burst of one), then one every millisecond, to the nanosecond.
    assert [at for _, at in served] == pytest.approx([n / 1000 for n in range(200)], abs=1e-9)


def test_a_thousand_waiters_are_one_timer_and_cost_about_nothing_while_they_wait(loop_thread):
    fake = FakeTime()
    clock = Clock(fake)
    limiter = loop_thread.call(lambda: PollLimiter(rate=4, burst=1, clock=clock))
    waiters = loop_thread.call(lambda: [loop_thread.loop.create_task(limiter.acquire()) for _ in range(1001)])
    fake.wait_blocked(1)  # exactly one timer on the clock: the head of the line's
    assert loop_thread.call(lambda: limiter.waiting) == 1000
    # A benchmark, not a synchronisation: one real second of waiting. asyncio-throttle woke each waiter
    # every 10 ms, 100,000 wake-ups in this second (0.35 s of CPU measured here); a limiter polling the
    # loop's own clock would show here too, since the fake clock never moves meanwhile.
    cpu = time.process_time()
    threading.Event().wait(1.0)
    spent = time.process_time() - cpu
    assert loop_thread.call(lambda: limiter.waiting) == 1000
    assert spent < 0.05
    loop_thread.call(lambda: [waiter.cancel() for waiter in waiters])


def test_a_cancelled_waiter_leaves_the_line_and_the_rest_go_on(loop_thread):
    fake = FakeTime()
    clock = Clock(fake)
    served: list[int] = []
    limiter = loop_thread.call(lambda: PollLimiter(rate=200, burst=1, clock=clock))

    async def poll(number):
        async with limiter:
            served.append(number)

    tasks = loop_thread.call(lambda: [loop_thread.loop.create_task(poll(n)) for n in range(6)])
    fake.wait_blocked(1)
    loop_thread.call(lambda: tasks[2].cancel())
    while loop_thread.call(lambda: len(served)) < 5:
        fake.step(blocked=1)
    assert served == [0, 1, 3, 4, 5]
    assert clock.elapsed() == pytest.approx(4 / 200, abs=1e-9)


def test_the_limiter_also_runs_on_the_real_time():
    async def main():
        limiter = PollLimiter(rate=1000, burst=2)
        for _ in range(3):
            await limiter.acquire()
        return limiter.waiting

    assert asyncio.run(main()) == 0


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (5, 0.5)])
def test_bad_rates_are_refused(rate, burst):
    with pytest.raises(ValueError, match="must be"):
        PollLimiter(rate, burst)
