"""The load engine: sends a workload's requests on an arrival model's schedule and records each attempt.

Open loop (scheduled arrivals): each arrival is due at ``start + offset``; the dispatcher sleeps until
then and starts the request as its own task without waiting for earlier ones. It never turns into a
closed loop: an arrival that finds ``max_concurrency`` requests in flight, or comes up more than
``max_lateness`` seconds after its due time (the sender itself fell behind), is *dropped* and counted
(``dropped``, and ``dropped_late`` for the second reason) in its second's aggregate.

Closed loop (``ConcurrentArrivals``): N workers, each sending its next request when the last ends.

The schedule's accounting always adds up: ``planned == sent + dropped + cut_off``. ``stop()`` (at the
entry's end, or early) ends the schedule at its moment: the arrivals due before it are still dispatched
as usual (sent, or dropped when more than ``max_lateness`` late) though the dispatcher, behind, reaches
them after the stop; the arrivals due after it are not sent. When the run stops (or ``run()`` is
cancelled) before the dispatcher reached every arrival, the ones it did not reach are counted: those
already more than ``max_lateness`` late are dropped (as they would have been), the rest are ``cut_off``
(``cut_off_due`` of them were already due when the dispatcher saw the stop). For an endless schedule
``planned`` is what came due before the stop.

For every attempt the engine records, through a ``PerSecondAggregator``: the send time (the event's start),
the service time (send to response, the event's duration) and, in open loop, the ``lateness`` (send
minus due time) and the ``latency`` from the due time (response minus due time, corrected for
coordinated omission, always >= the service time). Completed seconds are flushed every
``flush_interval`` seconds and everything at the end, so each attempt is in ``events.jsonl`` exactly
once: as its own event (failures up to a budget, or every request when asked) or in its second's
aggregate.

The per-request path does no logging, no validation and allocates little: timing, one task, one
small dict of values, the recorder's histogram updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Generic, Protocol, TypeVar

from perf_tests.load.arrivals import ArrivalModel, ConcurrentArrivals, ScheduledArrivals
from perf_tests.recorder.failures import classify_exception
from perf_tests.recorder.per_second import PerSecondAggregator
from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.stop import StopToken

__all__ = ["LoadEngine", "LoadTotals", "Operation", "Workload"]

_LONG_WAIT = 0.05  # a long wait for the next arrival is cut into slices so that stop() is seen quickly
CANCELLED = "cancelled"


class Operation(Protocol):
    """What the engine needs of the thing a workload picks: the name it is recorded under."""

    @property
    def name(self) -> str:
        """Operation name in events and reports (e.g. ``list_runs``)."""
        ...


OpT = TypeVar("OpT", bound=Operation)


class Workload(Protocol[OpT]):
    """What the engine drives: picks the next request and sends it."""

    def pick(self) -> OpT:
        """The operation the next arrival sends (called once per arrival, sent or dropped)."""
        ...

    async def send(self, operation: OpT) -> Mapping[str, Any] | None:
        """Send one request; raise on failure; return attributes to attach to its second (or None)."""
        ...


@dataclass
class LoadTotals:
    """Totals of one engine run (counts are of arrivals and attempts, times in seconds).

    ``planned == scheduled + cut_off`` and ``scheduled == sent + dropped``: every arrival of the plan is
    sent, dropped or cut off by the end of the run (see the module docstring).
    """

    arrival: str
    elapsed: float
    scheduled: int
    sent: int
    ok: int
    failed: int
    dropped: int
    dropped_late: int
    cancelled: int
    max_in_flight: int
    max_lateness: float
    send_span: float = 0.0
    planned: int = 0
    cut_off: int = 0
    cut_off_due: int = 0
    open_loop: bool = True

    @property
    def achieved_rate(self) -> float:
        """Attempts per second over the dispatch window."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def send_rate(self) -> float:
        """Attempts per second measured between the first and the last actual send."""
        return (self.sent - 1) / self.send_span if self.sent > 1 and self.send_span > 0 else 0.0

    @property
    def kept_up(self) -> bool:
        """True when no arrival was dropped."""
        return self.dropped == 0

    def describe(self) -> str:
        """One line for logs and the scenario summary; for an open loop it accounts for every arrival."""
        sent = (f"{self.sent} sent in {self.elapsed:.1f}s ({self.achieved_rate:.1f}/s), {self.ok} ok, "
                f"{self.failed} failed")
        if not self.open_loop:
            return f"{self.arrival}: {sent}"
        text = f"{self.arrival}: {self.planned} arrivals planned, {sent}"
        if self.dropped:
            text += (
                f"; could not keep up: {self.dropped} dropped "
                f"({self.dropped - self.dropped_late} at the concurrency cap, {self.dropped_late} too late)"
            )
        if self.cut_off:
            due = f" ({self.cut_off_due} of them already due)" if self.cut_off_due else ""
            text += f"; {self.cut_off} not reached when the run stopped{due}"
        return text

    def as_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict, with the achieved rate."""
        return {**asdict(self), "achieved_rate": round(self.achieved_rate, 3), "send_rate": round(self.send_rate, 3)}


class LoadEngine(Generic[OpT]):
    """Sends ``workload``'s requests on ``arrivals``' schedule and records every attempt.

    Lifecycle of ``run()``, in order:

    1. dispatch: open loop, or N closed-loop workers, until the arrival model ends or ``stop()``;
    2. drain: wait up to ``drain_timeout`` seconds for requests still in flight;
    3. cancel: the rest are cancelled and recorded as failed attempts of type ``cancelled``;
    4. flush: every remaining second goes to the recorder's hook; a ``LoadTotals`` is returned.

    ``stop()`` may be called from any thread; ``stopping`` (a ``StopToken``, e.g. the runner's own) stops
    it too. Every reading is on ``clock`` (the run's clock, so records line up with other runners' events
    and marks; wall time is derived from the same monotonic reading), and so is every wait (``clock.sleep``:
    the event loop's own timers on the real time, the source's timers on a fake one). ``start_at`` anchors the schedule
    at a monotonic reading of that clock (e.g. the entry's start) instead of the moment ``run()`` begins.
    ``spin`` > 0 busy-yields the last ``spin`` seconds before each due time for sub-millisecond
    lateness with the default event loop, at the cost of CPU.
    """

    def __init__(
        self,
        arrivals: ArrivalModel,
        workload: Workload[OpT],
        recorder: PerSecondAggregator,
        *,
        max_concurrency: int = 1000,
        max_lateness: float = 1.0,
        drain_timeout: float = 10.0,
        flush_interval: float = 0.5,
        spin: float = 0.0,
        clock: Clock | None = None,
        stopping: StopToken | None = None,
        start_at: float | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if isinstance(arrivals, ConcurrentArrivals) and arrivals.concurrency > max_concurrency:
            raise ValueError(
                f"concurrency {arrivals.concurrency} is above max_concurrency {max_concurrency}"
            )
        if not isinstance(arrivals, ScheduledArrivals | ConcurrentArrivals):
            raise TypeError(f"unsupported arrival model {type(arrivals).__name__}")
        self.arrivals = arrivals
        self.workload = workload
        self.recorder = recorder
        self.max_concurrency = max_concurrency
        self.max_lateness = max_lateness
        self.drain_timeout = drain_timeout
        self.flush_interval = flush_interval
        self.spin = spin
        self.clock = clock or Clock()
        self._now = self.clock.source.monotonic  # the bare reading: called per request
        self.wall_offset = self.clock.wall_offset
        self.start_at = start_at
        self.stopping = stopping or StopToken()
        # The token's state as a plain attribute, read per arrival on the hot path (set from any thread), and
        # when it was set (the clock's monotonic reading): the schedule ends there.
        self._halted = False
        self._halted_at = math.inf
        self.stopping.add_callback(self._halt)
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatching = True  # closed loop: False once the deadline passed (workers end after a request)
        self._in_flight = 0
        self._started: float | None = None
        self._dispatch_end: float | None = None
        self._first_send: float | None = None
        self._last_send = 0.0
        # Arrivals the dispatcher did not reach when it stopped, still to be counted (see _count_rest).
        self._rest: Iterator[float] | None = None
        # Totals, updated on the loop thread; reading them from another thread is fine (progress).
        self.scheduled = 0
        self.sent = 0
        self.ok = 0
        self.failed = 0
        self.dropped = 0
        self.dropped_late = 0
        self.cancelled = 0
        self.cut_off_due = 0
        self.cut_off_later = 0  # not yet due when the run stopped
        self.max_in_flight = 0
        self.max_seen_lateness = 0.0

    # -- control ------------------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Stop dispatching; ``run()`` then drains and returns. Thread-safe, returns at once."""
        self.stopping.set(reason)

    def _halt(self) -> None:
        self._halted_at = self._now()  # before the flag: whoever sees the flag sees the moment
        self._halted = True

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return self._in_flight

    def progress(self) -> str:
        """A short line: attempts, failures, drops and the rate so far."""
        started = self._started
        elapsed = (self._now() - started) if started is not None else 0.0
        rate = self.sent / elapsed if elapsed > 0 else 0.0
        return (
            f"{self.sent} sent ({rate:.1f}/s), {self.failed} failed, {self.dropped} dropped, "
            f"{self._in_flight} in flight"
        )

    # -- the run ------------------------------------------------------------------------------------
    async def run(self) -> LoadTotals:
        """Dispatch, drain, cancel and flush (see the class docstring); return the totals."""
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            self._started = self._now() if self.start_at is None else self.start_at
            if isinstance(self.arrivals, ConcurrentArrivals):
                await self._closed_loop(self.arrivals)
            else:
                assert isinstance(self.arrivals, ScheduledArrivals)
                await self._open_loop(self.arrivals)
            self._dispatch_end = self._now()
            await self._drain()
        finally:
            if self._dispatch_end is None:
                self._dispatch_end = self._now()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            if self._tasks:  # run() itself was cancelled: end the attempts so that each is recorded
                # One loop turn first: a task cancelled before its first step never runs its body, so it
                # would be neither sent nor recorded.
                await asyncio.sleep(0)
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._count_rest()
            self.recorder.flush()
        return self.result()

    def result(self) -> LoadTotals:
        """The totals so far."""
        start = self._started if self._started is not None else self._now()
        end = self._dispatch_end if self._dispatch_end is not None else self._now()
        cut_off = self.cut_off_due + self.cut_off_later
        return LoadTotals(
            arrival=self.arrivals.describe(),
            elapsed=max(end - start, 0.0),
            scheduled=self.scheduled,
            sent=self.sent,
            ok=self.ok,
            failed=self.failed,
            dropped=self.dropped,
            dropped_late=self.dropped_late,
            cancelled=self.cancelled,
            max_in_flight=self.max_in_flight,
            max_lateness=self.max_seen_lateness,
            send_span=(self._last_send - self._first_send) if self._first_send is not None else 0.0,
            planned=self.scheduled + cut_off,
            cut_off=cut_off,
            cut_off_due=self.cut_off_due,
            open_loop=isinstance(self.arrivals, ScheduledArrivals),
        )

    async def _open_loop(self, arrivals: ScheduledArrivals) -> None:
        loop = asyncio.get_running_loop()
        create_task = loop.create_task
        sleep = self.clock.sleep
        pick = self.workload.pick
        attempt = self._attempt
        tasks = self._tasks
        forget = tasks.discard
        count = self.recorder.count
        cap = self.max_concurrency
        max_lateness = self.max_lateness
        spin = self.spin
        wall = self.wall_offset
        start = self._started
        assert start is not None
        _now = self._now
        offsets = iter(arrivals.offsets())
        offset: float | None = None  # taken from the schedule and not yet sent or dropped
        try:
            for offset in offsets:
                due = start + offset
                now = _now()
                if now < due:
                    # The loop's timers are only millisecond-accurate (uvloop may fire early): sleep,
                    # then check the clock again; a sub-millisecond rest becomes a zero sleep.
                    while now < due and not self._halted:
                        left = due - now
                        if left > spin:
                            await sleep(min(left - spin, _LONG_WAIT))
                        else:
                            await sleep(0)
                        now = _now()
                # The stop ends the schedule at its moment: an arrival due before it is dispatched as usual
                # (sent, or dropped when too late) even if the dispatcher reaches it after the stop, so a
                # dispatcher a few milliseconds behind at the entry's end does not lose its last arrivals.
                if self._halted and due >= self._halted_at:
                    break
                offset = None
                self.scheduled += 1
                operation = pick()
                late = now - due
                if late > max_lateness:
                    self.dropped += 1
                    self.dropped_late += 1
                    count(operation.name, "dropped", wall + due)
                    count(operation.name, "dropped_late", wall + due)
                    continue
                if self._in_flight >= cap:
                    self.dropped += 1
                    count(operation.name, "dropped", wall + due)
                    continue
                self._in_flight += 1
                if self._in_flight > self.max_in_flight:
                    self.max_in_flight = self._in_flight
                task = create_task(attempt(operation, due))
                tasks.add(task)
                task.add_done_callback(forget)
        finally:
            if offset is not None:  # stopped (or cancelled) before the end of the schedule
                self._unreached(arrivals, itertools.chain((offset,), offsets))

    def _unreached(self, arrivals: ScheduledArrivals, rest: Iterator[float]) -> None:
        """Count the arrivals the dispatcher did not reach: more than ``max_lateness`` late ones as
        dropped (what the dispatcher would have done), the other due ones and the ones not yet due as cut
        off. The length of a random schedule is only known by walking it: ``_count_rest`` does that once
        the requests in flight are done, so that the walk does not delay their responses."""
        now = self._now()
        start = self._started
        assert start is not None
        wall = self.wall_offset
        count = self.recorder.count
        pick = self.workload.pick
        late_before = now - self.max_lateness
        for offset in rest:
            due = start + offset
            if due > now:
                if arrivals.duration is not None:  # an endless schedule plans nothing after the stop
                    planned = arrivals.planned()
                    if planned is not None:
                        self.cut_off_later = planned - self.scheduled - self.cut_off_due
                    else:
                        self.cut_off_later = 1
                        self._rest = rest
                return
            if due < late_before:
                name = pick().name
                self.scheduled += 1
                self.dropped += 1
                self.dropped_late += 1
                count(name, "dropped", wall + due)
                count(name, "dropped_late", wall + due)
            else:
                self.cut_off_due += 1

    def _count_rest(self) -> None:
        """Walk the rest of a schedule whose length is not known in advance (a random one)."""
        rest, self._rest = self._rest, None
        if rest is not None:
            self.cut_off_later += sum(1 for _ in rest)

    async def _closed_loop(self, arrivals: ConcurrentArrivals) -> None:
        start = self._started
        assert start is not None
        deadline = math.inf if arrivals.duration is None else start + arrivals.duration
        workers = [asyncio.create_task(self._worker(deadline)) for _ in range(arrivals.concurrency)]
        self._tasks.update(workers)
        for worker in workers:
            worker.add_done_callback(self._tasks.discard)
        # Dispatch ends at the deadline or stop(); the requests then in flight are drained like open-loop
        # ones (each worker ends after its current request).
        while not self._halted and self._tasks:
            left = deadline - self._now()
            if left <= 0:
                break
            await self.clock.sleep(min(left, _LONG_WAIT))
        self._dispatching = False

    async def _worker(self, deadline: float) -> None:
        pick = self.workload.pick
        attempt = self._attempt
        _now = self._now
        while self._dispatching and not self._halted and _now() < deadline:
            self.scheduled += 1
            self._in_flight += 1
            if self._in_flight > self.max_in_flight:
                self.max_in_flight = self._in_flight
            await attempt(pick(), None)

    async def _attempt(self, operation: OpT, due: float | None) -> None:
        """One request: time it and record it exactly once (even when cancelled)."""
        _now = self._now
        send = _now()
        self.sent += 1
        self._last_send = send
        if self._first_send is None:
            self._first_send = send
        name = operation.name
        try:
            attrs = await self.workload.send(operation)
        except asyncio.CancelledError:
            end = _now()
            self.failed += 1
            self.cancelled += 1
            self.recorder.record(name, self.wall_offset + send, end - send, False, CANCELLED,
                                 "still in flight when the run stopped", self._values(due, send, end))
            raise
        except Exception as exc:
            end = _now()
            self.failed += 1
            error_type, message = classify_exception(exc)
            self.recorder.record(name, self.wall_offset + send, end - send, False, error_type, message,
                                 self._values(due, send, end))
        else:
            end = _now()
            self.ok += 1
            self.recorder.record(name, self.wall_offset + send, end - send, True, None, None,
                                 self._values(due, send, end), attrs)
        finally:
            self._in_flight -= 1

    def _values(self, due: float | None, send: float, end: float) -> dict[str, float] | None:
        if due is None:
            return None
        late = send - due
        if late > self.max_seen_lateness:
            self.max_seen_lateness = late
        return {"lateness": late, "latency": end - due}

    async def _drain(self) -> None:
        # One loop turn first: every task created so far starts, so each attempt runs its own
        # bookkeeping even if it is cancelled at once.
        await asyncio.sleep(0)
        pending = set(self._tasks)
        if pending and self.drain_timeout > 0:
            # All of them, or the timeout on the run clock, whichever comes first (asyncio.wait's own timeout
            # is the loop's time); cancelling the waits leaves the requests running.
            all_done = asyncio.ensure_future(asyncio.wait(pending))
            timeout = asyncio.ensure_future(self.clock.sleep(self.drain_timeout))
            try:
                await asyncio.wait((all_done, timeout), return_when=asyncio.FIRST_COMPLETED)
            finally:
                all_done.cancel()
                timeout.cancel()
            pending = {task for task in pending if not task.done()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _flush_periodically(self) -> None:
        while True:
            await self.clock.sleep(self.flush_interval)
            self.recorder.flush(before=self.wall_offset + self._now())
