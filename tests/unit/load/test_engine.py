"""The load engine against a real loopback server: lateness, drops, corrected latency, accounting."""

from __future__ import annotations

import asyncio
import threading

import pytest

from perf_tests.load import ConcurrentArrivals, ConstantArrivals, LoadEngine, LoadTotals, StagesArrivals
from perf_tests.load.arrivals import ArrivalModel, Stage
from perf_tests.recorder import PerSecondAggregator
from perf_tests.scheduler import Clock, FakeTime
from tests.unit.load.load_helpers import Fixed, Instant, Url, new_session, run_on_fake_clock


def run_engine(arrivals: ArrivalModel, recorder: PerSecondAggregator, *urls: Url, max_connections: int = 100,
               **options: object) -> LoadTotals:
    async def main() -> LoadTotals:
        async with new_session(max_connections=max_connections) as session:
            engine = LoadEngine(arrivals, Fixed(session, *urls), recorder, **options)  # type: ignore[arg-type]
            return await engine.run()

    return asyncio.run(main())


def test_open_loop_sends_every_arrival_and_records_lateness(server, make_recorder, collected):
    result = run_engine(ConstantArrivals(200, duration=1), make_recorder(), Url("ok", server.url + "/ok"))
    assert result.scheduled == result.sent == result.ok == 200
    assert result.dropped == result.failed == 0
    assert server.hits["/ok"] == 200
    assert collected.attempts("ok") == 200
    lateness = sum(a.values["lateness"].get_total_count() for a in collected.aggregates)
    latency = sum(a.values["latency"].get_total_count() for a in collected.aggregates)
    assert lateness == latency == 200
    assert 0 <= result.max_lateness < 1.0
    assert result.send_rate == pytest.approx(200, rel=0.2)  # loose: other tests share the two cores


def test_every_attempt_is_accounted_for_exactly_once(server, make_recorder, collected):
    # Successes go to aggregates; failures become own events up to 3 per second, the rest aggregate.
    urls = [Url("ok", server.url + "/ok"), Url("fail", server.url + "/status/500"),
            Url("missing", server.url + "/status/404")]
    result = run_engine(ConstantArrivals(150, duration=1.5), make_recorder(error_events_per_second=3), *urls)
    assert result.sent == 225
    assert collected.attempts() == result.sent
    for name in ("ok", "fail", "missing"):
        assert collected.attempts(name) == 75
    assert result.failed == 150
    own_errors = {e.error_type for e in collected.operations}
    assert own_errors == {"http_500", "http_404"}
    aggregated_errors = {k for a in collected.aggregates for k in a.errors}
    assert aggregated_errors == {"http_500", "http_404"}
    assert any("injected failure" in (e.error or "") for e in collected.operations)


def test_a_redirect_is_an_error_not_followed(server, make_recorder, collected):
    redirect = Url("redirect", server.url + "/status/302")
    result = run_engine(ConstantArrivals(20, duration=0.5), make_recorder(), redirect)
    assert result.failed == 10
    assert server.hits["/ok"] == 0
    assert {e.error_type for e in collected.operations} == {"http_302"}


def test_corrected_latency_is_at_least_the_service_time(server, make_recorder, collected):
    # Every request is its own event: its attrs hold lateness and latency from the due time.
    result = run_engine(ConstantArrivals(100, duration=1), make_recorder(every_request=True),
                        Url("slowish", server.url + "/slow?s=0.02"))
    events = collected.operations
    assert len(events) == result.sent == 100
    for event in events:
        assert event.attrs is not None
        assert event.attrs["latency"] >= event.duration
        assert event.attrs["latency"] == pytest.approx(event.attrs["lateness"] + event.duration, abs=1e-6)
        assert event.duration >= 0.02


def test_a_slow_server_holding_every_connection_makes_arrivals_drop(server, make_recorder, collected):
    # 0.5 s answers, at most 4 in flight: about 4 sends per half second, the rest of 100/s is dropped.
    result = run_engine(ConstantArrivals(100, duration=1), make_recorder(), Url("slow", server.url + "/slow?s=0.5"),
                        max_concurrency=4, max_connections=4)
    assert result.scheduled == 100
    assert result.sent + result.dropped == 100
    assert 4 <= result.sent <= 16
    assert result.dropped >= 84
    assert result.dropped_late == 0
    assert result.max_in_flight == 4
    assert server.max_in_flight <= 4
    assert collected.counter("dropped", "slow") == result.dropped
    assert collected.attempts("slow") == result.sent
    assert "could not keep up" in result.describe()
    assert not result.kept_up


def test_closed_loop_keeps_n_in_flight(server, make_recorder, collected):
    result = run_engine(ConcurrentArrivals(3, duration=0.6), make_recorder(), Url("slow", server.url + "/slow?s=0.05"))
    assert server.max_in_flight == 3
    assert result.max_in_flight == 3
    assert 9 <= result.sent <= 40  # about 3 per 50 ms, less on a busy machine
    assert result.dropped == 0
    assert collected.attempts() == result.sent
    # A closed loop has no schedule: no lateness or corrected latency values.
    assert all(not a.values for a in collected.aggregates)


def test_stop_from_another_thread_ends_an_endless_schedule(server, make_recorder, collected):
    engines: list[LoadEngine[Url]] = []
    sends = 0

    def on_send() -> None:
        nonlocal sends
        sends += 1
        if sends == 10:
            threading.Thread(target=engines[0].stop).start()

    async def main() -> LoadTotals:
        async with new_session() as session:
            engine = LoadEngine(ConstantArrivals(200), Fixed(session, Url("ok", server.url + "/ok"), on_send=on_send),
                                make_recorder())
            engines.append(engine)
            return await engine.run()

    result = asyncio.run(main())
    assert 10 <= result.sent < 200
    assert collected.attempts() == result.sent


def test_requests_still_in_flight_after_the_drain_are_cancelled_and_recorded(server, make_recorder, collected):
    result = run_engine(ConstantArrivals(20, duration=0.25), make_recorder(),
                        Url("hung", server.url + "/slow?s=5"), drain_timeout=0.2)
    assert result.sent == 5
    assert result.cancelled == result.failed == 5
    assert collected.attempts("hung") == 5
    assert {e.error_type for e in collected.operations} == {"cancelled"}


def test_arrivals_later_than_the_bound_are_dropped_as_late(make_recorder, collected):
    # The first pick takes 300 ms of the (fake) clock: the arrivals due every 5 ms meanwhile are more than
    # the 20 ms bound late when the sender gets to them, so they are dropped as late instead of being
    # sent in one burst; the schedule then goes on as planned.
    fake = FakeTime()
    clock = Clock(fake)

    def first_pick_stalls(pick: int) -> None:
        if pick == 1:
            fake.advance(0.3)  # the sender itself falls behind: the behaviour under test

    async def main() -> LoadTotals:
        engine = LoadEngine(ConstantArrivals(200, duration=0.5), Instant(Url("ok", "fake"), on_pick=first_pick_stalls),
                            make_recorder(), max_lateness=0.02, clock=clock)
        return await engine.run()

    result = run_on_fake_clock(fake, main)
    assert result.scheduled == 100
    # Due at 5..275 ms, reached at 300 ms: more than 20 ms late; the one due at 280 ms is 20 ms late, sent.
    assert result.dropped_late == 55
    assert result.dropped == result.dropped_late
    assert collected.counter("dropped_late") == collected.counter("dropped") == result.dropped_late
    assert collected.attempts() == result.sent == 100 - result.dropped
    assert result.max_lateness == pytest.approx(0.3)  # the first request itself went out after the stall
    assert result.elapsed == pytest.approx(0.495)  # dispatch ended at the last arrival's due time


def test_stages_schedule_through_the_engine(server, make_recorder, collected):
    stages = StagesArrivals([Stage(20, 0.5), Stage(60, 0.5)])
    result = run_engine(stages, make_recorder(), Url("ok", server.url + "/ok"))
    assert result.sent == 40
    assert server.hits["/ok"] == 40


def test_invalid_engine_settings():
    recorder = PerSecondAggregator.__new__(PerSecondAggregator)
    with pytest.raises(ValueError, match="max_concurrency must be at least 1"):
        LoadEngine(ConstantArrivals(1), Fixed(None), recorder, max_concurrency=0)
    with pytest.raises(ValueError, match="concurrency 5 is above max_concurrency 2"):
        LoadEngine(ConcurrentArrivals(5), Fixed(None), recorder, max_concurrency=2)


def test_cancelling_run_still_records_every_attempt(server, make_recorder, collected):
    async def main() -> LoadEngine[Url]:
        five_sent = asyncio.Event()
        sends = 0

        def on_send() -> None:
            nonlocal sends
            sends += 1
            if sends == 5:
                five_sent.set()

        async with new_session() as session:
            workload = Fixed(session, Url("hung", server.url + "/slow?s=5"), on_send=on_send)
            engine = LoadEngine(ConstantArrivals(100), workload, make_recorder())
            running = asyncio.ensure_future(engine.run())
            await five_sent.wait()
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            return engine

    engine = asyncio.run(main())
    assert engine.sent >= 5
    assert engine.cancelled == engine.sent
    assert collected.attempts("hung") == engine.sent


def test_a_dropped_connection_is_one_recorded_attempt_not_a_hidden_retry(server, make_recorder, collected):
    # aiohttp resends an idempotent request once when the connection is closed under it; a load
    # generator must not: every request the server receives is an attempt the engine recorded.
    urls = [Url("ok", server.url + "/ok"), Url("drop", server.url + "/drop")]
    result = run_engine(ConstantArrivals(40, duration=1), make_recorder(), *urls, max_connections=4)
    assert result.sent == 40
    assert server.hits["/drop"] == collected.attempts("drop") == 20
    assert server.hits["/ok"] == collected.attempts("ok") == 20
    assert result.failed == 20
    assert {e.error_type for e in collected.operations} == {"connection"}
