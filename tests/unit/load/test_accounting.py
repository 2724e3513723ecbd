"""Exact accounting of the open-loop schedule: every planned arrival is sent, dropped or cut off.

``planned == sent + dropped + cut_off``, always: when the sender cannot keep up (a rate far above what
this machine can send), when the run is stopped at its end or early, when ``run()`` is cancelled, for
every arrival model. The events agree with the totals: each sent arrival is one attempt, each dropped
one is counted in its second.
"""

from __future__ import annotations

import asyncio

import pytest

from perf_tests.load import ConstantArrivals, LoadEngine, LoadTotals, PoissonArrivals, Stage, StagesArrivals
from perf_tests.load.arrivals import ScheduledArrivals
from perf_tests.recorder import PerSecondAggregator
from perf_tests.scheduler import Clock, FakeTime
from tests.unit.load.load_helpers import Collected, Fixed, Instant, Url, new_session, run_on_fake_clock


def run_stopped(arrivals: ScheduledArrivals, recorder: PerSecondAggregator, url: str, stop_after: float | None,
                **options: object) -> LoadTotals:
    """Run the engine and call ``stop()`` ``stop_after`` seconds after the schedule's start (as the
    scheduler does at an entry's end), or let the schedule run out."""

    async def main() -> LoadTotals:
        async with new_session(max_connections=50) as session:
            engine = LoadEngine(arrivals, Fixed(session, Url("ok", url)), recorder, max_concurrency=50,
                                **options)  # type: ignore[arg-type]
            if stop_after is not None:
                asyncio.get_running_loop().call_later(stop_after, engine.stop)
            return await engine.run()

    return asyncio.run(main())


def assert_adds_up(result: LoadTotals, collected: Collected, planned: int) -> None:
    assert result.planned == planned
    assert result.sent + result.dropped + result.cut_off == planned, result
    assert result.scheduled == result.sent + result.dropped
    assert result.ok + result.failed == result.sent
    assert 0 <= result.cut_off_due <= result.cut_off
    assert collected.attempts() == result.sent
    assert collected.counter("dropped") == result.dropped
    assert collected.counter("dropped_late") == result.dropped_late


def test_overload_stopped_at_the_end_of_the_schedule(server, make_recorder, collected):
    # 50,000/s for 1.5 s is far more than one core sends; the stop comes when the schedule ends, while
    # the sender is still behind: the arrivals it had not reached are counted, not lost.
    arrivals = ConstantArrivals(50_000, duration=1.5)
    result = run_stopped(arrivals, make_recorder(), server.url + "/ok", stop_after=1.5)
    assert_adds_up(result, collected, 75_000)
    assert result.dropped > 0
    assert result.sent == server.hits["/ok"]
    assert "could not keep up" in result.describe()
    assert result.describe().startswith("constant 50000/s: 75000 arrivals planned, ")


def test_overload_with_a_tight_lateness_bound(server, make_recorder, collected):
    arrivals = ConstantArrivals(40_000, duration=1)
    result = run_stopped(arrivals, make_recorder(), server.url + "/ok", stop_after=1.0, max_lateness=0.05)
    assert_adds_up(result, collected, 40_000)
    assert result.dropped > 0


def test_an_early_stop_cuts_off_the_rest_of_the_schedule(server, make_recorder, collected):
    result = run_stopped(ConstantArrivals(500, duration=4), make_recorder(), server.url + "/ok", stop_after=0.5)
    assert_adds_up(result, collected, 2000)
    # The stop came about 0.5 s into the 4 s schedule (later on a busy machine): the rest is cut off.
    assert 2000 - result.elapsed * 500 - 1 <= result.cut_off <= 2000 - 0.4 * 500
    assert result.cut_off >= 1000
    assert f"; {result.cut_off} not reached when the run stopped" in result.describe()


@pytest.mark.parametrize(
    "arrivals",
    [
        PoissonArrivals(800, duration=3, seed=5),
        StagesArrivals([Stage(200, 1), Stage(600, 1, ramp_to=1200), Stage(300, 1)]),
        StagesArrivals([Stage(400, 1.5), Stage(900, 1.5)], process="poisson", seed=2),
    ],
    ids=["poisson", "stages", "stages-poisson"],
)
def test_every_model_adds_up_when_stopped_early(server, make_recorder, collected, arrivals):
    planned = len(list(arrivals.offsets()))
    result = run_stopped(arrivals, make_recorder(), server.url + "/ok", stop_after=0.4)
    assert_adds_up(result, collected, planned)
    assert result.cut_off > 0


def test_a_schedule_that_runs_out_cuts_nothing_off(server, make_recorder, collected):
    result = run_stopped(ConstantArrivals(300, duration=0.5), make_recorder(), server.url + "/ok", stop_after=None)
    assert_adds_up(result, collected, 150)
    assert result.cut_off == 0
    assert result.sent == 150


def test_an_endless_schedule_counts_what_was_due(server, make_recorder, collected):
    # No duration: what was planned is what came due before the stop.
    result = run_stopped(ConstantArrivals(30_000), make_recorder(), server.url + "/ok", stop_after=0.5)
    assert_adds_up(result, collected, result.planned)
    assert result.planned >= 15_000  # 0.5 s at 30,000/s, and the stop may come late on a busy machine
    assert result.planned <= result.elapsed * 30_000 + 1  # nothing after the end of the dispatch


def test_cancelling_run_under_overload_still_adds_up(server, make_recorder, collected):
    async def main() -> LoadEngine[Url]:
        async with new_session(max_connections=50) as session:
            engine = LoadEngine(ConstantArrivals(50_000, duration=2), Fixed(session, Url("ok", server.url + "/ok")),
                                make_recorder(), max_concurrency=50)
            running = asyncio.ensure_future(engine.run())
            asyncio.get_running_loop().call_later(0.5, running.cancel)
            with pytest.raises(asyncio.CancelledError):
                await running
            return engine

    engine = asyncio.run(main())
    assert_adds_up(engine.result(), collected, 100_000)
    assert engine.in_flight == 0


def test_arrivals_already_too_late_at_the_stop_are_dropped_not_cut_off(make_recorder, collected):
    # The sender stalls for 300 ms of the (fake) clock in the pick due at 245 ms, and the stop comes at its
    # start: the arrivals that became due during the stall are more than maxLateness late, so they count as
    # dropped (late), as the dispatcher would have counted them; the ones not yet due are cut off.
    fake = FakeTime()
    clock = Clock(fake)
    engines: list[LoadEngine[Url]] = []

    def stops_and_stalls(pick: int) -> None:
        if pick == 50:  # due at 245 ms
            engines[0].stop()
            fake.advance(0.3)  # the sender itself falls behind: the behaviour under test

    async def main() -> LoadTotals:
        engine = LoadEngine(ConstantArrivals(200, duration=1), Instant(Url("ok", "fake"), on_pick=stops_and_stalls),
                            make_recorder(), max_lateness=0.02, clock=clock)
        engines.append(engine)
        return await engine.run()

    result = run_on_fake_clock(fake, main)
    assert_adds_up(result, collected, 200)
    assert result.sent == 50  # due up to 245 ms, sent on time
    assert result.dropped_late == result.dropped == 55  # due 250..520 ms: more than 20 ms late at 545 ms
    assert result.cut_off_due == 5  # due 525..545 ms: within the last 20 ms
    assert result.cut_off == 95  # those and the rest of the 1 s schedule


def test_arrivals_due_before_the_stop_are_sent_though_the_dispatcher_reaches_them_after_it(make_recorder, collected):
    # The sender stalls 102.5 ms of the (fake) clock in the pick due at 245 ms, and the stop (the entry's end)
    # comes at the end of the stall: the 20 arrivals that became due during the stall are inside the
    # schedule the stop ends, so they are sent (late), not cut off; the ones due after the stop are cut off.
    fake = FakeTime()
    clock = Clock(fake)
    engines: list[LoadEngine[Url]] = []

    def stalls_then_stops(pick: int) -> None:
        if pick == 50:
            fake.advance(0.1025)  # the sender falls behind ...
            engines[0].stop()  # ... and the entry's end comes, at 347.5 ms

    async def main() -> LoadTotals:
        engine = LoadEngine(ConstantArrivals(200, duration=1), Instant(Url("ok", "fake"), on_pick=stalls_then_stops),
                            make_recorder(), clock=clock, start_at=clock.monotonic() + 0.05)
        engines.append(engine)
        return await engine.run()

    result = run_on_fake_clock(fake, main)
    assert_adds_up(result, collected, 200)
    assert engines[0].start_at == clock.monotonic_at(0.05)
    assert result.sent == 70  # due 0..345 ms: every arrival due before the stop, none after
    assert result.max_lateness == pytest.approx(0.1025)  # the one due at 245 ms waited out the stall
    assert result.dropped == 0 and result.cut_off_due == 0
    assert result.cut_off == 130
