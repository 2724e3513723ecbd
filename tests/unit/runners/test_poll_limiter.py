"""PollLimiter: a FIFO rate cap whose waiters cost nothing while they wait."""

import asyncio
import time

import pytest

from perf_tests.runners.poll_limiter import PollLimiter


def test_a_thousand_waiters_are_served_in_arrival_order_at_the_rate():
    served: list[int] = []

    async def main():
        limiter = PollLimiter(rate=2000, burst=1)

        async def poll(number):
            async with limiter:
                served.append(number)

        first = [asyncio.create_task(poll(n)) for n in range(500)]
        await asyncio.sleep(0.02)  # some are served; the rest wait, then 500 newcomers join the line
        assert 0 < len(served) < 500
        late = [asyncio.create_task(poll(n)) for n in range(500, 1000)]
        began = time.monotonic()
        await asyncio.gather(*first, *late)
        return time.monotonic() - began

    elapsed = asyncio.run(main())
    assert served == list(range(1000))  # nobody overtakes: first come, first served
    # About 900 were waiting, at most 2,000/s: paced (at least 0.45 s), not let through at once. (The upper
    # bound is loose: on a loaded machine each timer wake-up comes late.)
    assert 0.4 < elapsed < 10.0


def test_a_thousand_waiters_cost_about_nothing_while_they_wait():
    async def main():
        limiter = PollLimiter(rate=4, burst=1)
        waiters = [asyncio.create_task(limiter.acquire()) for _ in range(1000)]
        await asyncio.sleep(0.05)  # all of them are in the line now
        cpu = time.process_time()
        await asyncio.sleep(1.0)
        spent = time.process_time() - cpu
        assert limiter.waiting >= 990
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        return spent

    # asyncio-throttle woke each waiter every 10 ms: 100,000 wake-ups in this second (0.35 s of CPU measured here).
    assert asyncio.run(main()) < 0.05


def test_a_cancelled_waiter_leaves_the_line_and_the_rest_go_on():
    async def main():
        limiter = PollLimiter(rate=200, burst=1)
        served: list[int] = []

        async def poll(number):
            async with limiter:
                served.append(number)

        tasks = [asyncio.create_task(poll(n)) for n in range(6)]
        await asyncio.sleep(0)
        tasks[2].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return served

    assert asyncio.run(main()) == [0, 1, 3, 4, 5]


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (5, 0.5)])
def test_bad_rates_are_refused(rate, burst):
    with pytest.raises(ValueError, match="must be"):
        PollLimiter(rate, burst)
