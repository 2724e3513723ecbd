"""The base of every mode's runner and its documented lifecycle.

Lifecycle (``perf_tests.scheduler.lifecycle``'s, with a wait for the start time), in order, in a runner
thread except ``stop``:

1. ``prepare()``: before t0 (the scheduler starts the clock once every runner has prepared). Connect,
   upload, create what the run needs. May be slow.
2. wait for the start time: ``t0 + startTime - lead_time`` on the shared clock (returns early when
   stopped). ``lead_time`` lets a runner whose load begins late (a subprocess that takes seconds to
   start) begin ``run()`` early so that its load starts on time.
3. ``run()``: do the work until ``self.stopping`` is set or the work is done.
4. ``stop(reason)``: called by the scheduler at ``t0 + startTime + runTime`` (reason ``end``) or on
   abort (the abort's reason) from another thread: sets ``self.stopping`` and returns at once;
   ``run()`` then winds down. Hand ``self.stopping`` to what the runner drives (the load engine, an
   executor) rather than overriding ``stop`` (it is final).
5. ``cleanup()``: always, after ``run()`` returned or raised: delete what the runner created, as the
   ``PERF_CLEANUP`` policy says.

The scheduler calls the ``@final`` template methods ``setup`` (phase 1) and ``execute`` (phases 2-5,
with the ``started``/``finished`` marks); a mode fills in ``prepare``, ``run`` and ``cleanup``.

``AsyncRunner`` runs an ``async def run_async()`` on an event loop in the runner's thread (uvloop when
installed) with a bounded executor for blocking client calls (``attempt``) and, for calls that are
coroutines (HTTP on the loop), ``attempt_async``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, final

from perf_tests.errors import PerfTestsError
from perf_tests.load.exchange import Exchange
from perf_tests.logger.redaction import redact
from perf_tests.models.scenario import ScenarioEntry
from perf_tests.recorder.events import OperationEvent, ScenarioMark
from perf_tests.recorder.failures import classify_exception
from perf_tests.results.status import EntryStatus
from perf_tests.runners.context import RunContext
from perf_tests.scheduler.lifecycle import Stoppable

__all__ = ["AsyncRunner", "Attempt", "BaseRunner", "EntryT", "QueueWaits"]

EntryT = TypeVar("EntryT", bound=ScenarioEntry)
T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attempt(Generic[T]):
    """How a measured call ended: its result, or the error type and message it was recorded with."""

    result: T | None
    error_type: str | None = None
    error: str | None = None


class BaseRunner(Stoppable, ABC, Generic[EntryT]):
    """One scenario entry's work. Subclasses set ``options_model`` and implement ``run``."""

    options_model: ClassVar[type[ScenarioEntry]]
    needs_kfp: ClassVar[bool] = True
    lead_time: float = 0.0
    late_start_note_after: ClassVar[float] = 0.5

    def __init__(self, entry: EntryT, context: RunContext) -> None:
        super().__init__()  # ``self.stopping``: set by ``stop``; shared with what the runner drives
        self.entry = entry
        self.context = context
        self.log = logging.LoggerAdapter(logger, {"scenario": entry.name, "mode": entry.mode})
        self._setup_error: BaseException | None = None

    # -- ScheduledRunner protocol -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def start_offset(self) -> float:
        return self.entry.start_time

    @property
    def end_offset(self) -> float:
        return self.entry.end_time

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the work runs on while it runs (None: the work runs on no loop of ours)."""
        return None

    @final
    def setup(self) -> None:
        """Phase 1 (``prepare``), run by the scheduler before t0; a failure is re-raised by ``execute``."""
        try:
            self.prepare()
        except BaseException as exc:
            self._setup_error = exc
            raise

    @final
    def execute(self) -> None:
        """Phases 2-5; records scenario marks; raises what ``prepare`` or ``run`` raised."""
        status, message = EntryStatus.PASSED, None
        try:
            if self._setup_error is not None:
                raise self._setup_error
            begin = max(0.0, self.start_offset - self.lead_time)
            if not self.wait_until(begin):
                self.mark("note", message="stopped before its start time")
                status = EntryStatus.NOT_RUN
                return
            late = self.context.clock.elapsed() - begin
            # The entry's window starts at its planned start: a lead time is preparation, not load.
            started = max(self.context.clock.wall_now(), self.context.clock.wall_at(self.start_offset))
            self.mark("started", attrs={"start_lateness_s": round(late, 3)}, at=started)
            if late > self.late_start_note_after:
                self.mark("note", message=f"started {late:.1f}s after its planned start time")
            self.run()
        except BaseException as exc:
            status, message = EntryStatus.ERROR, redact(str(exc) if isinstance(exc, PerfTestsError) else
                                             f"{type(exc).__name__}: {exc}")
            raise
        finally:
            try:
                self.cleanup()
            except Exception as exc:  # a failed cleanup must not hide the run's own outcome
                self.log.warning("cleanup failed: %s", redact(str(exc)))
                self.mark("note", message=f"cleanup failed: {redact(str(exc))}")
            self.mark("finished", status=status, message=message)

    def progress(self) -> str:
        """A short description of the work in progress, for the periodic progress line."""
        stats = self.context_stats()
        return stats or "running"

    # -- lifecycle phases ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Phase 1: get ready before the start time (default: nothing)."""

    @abstractmethod
    def run(self) -> None:
        """Phase 3: do the work until ``self.stopping`` is set or the work is done."""

    def cleanup(self) -> None:
        """Phase 5: delete what the runner created (default: nothing)."""

    # -- helpers ------------------------------------------------------------------------------------
    def observation_windows(self) -> list[tuple[str, str, float, float]]:
        """Spans of the shared clock, besides the entry's own, that Prometheus queries cover separately:
        ``(name, kind, start, end)`` with kind ``stage`` or ``copy`` and epoch seconds (none by default)."""
        return []

    def attach_observation(self, observation: Any) -> None:
        """After the run: what Prometheus saw over the entry's windows (an ``EntryObservation``), for a runner
        whose own reports have a place for it (nothing by default)."""

    @final
    def wait_until(self, offset: float) -> bool:
        """Sleep until ``offset`` seconds after t0; False when stopped first."""
        clock = self.context.clock
        return not clock.wait_until(self.stopping.event, clock.monotonic_at(offset))

    def seconds_left(self) -> float:
        """Seconds until this entry's end on the shared clock."""
        return self.end_offset - self.context.clock.elapsed()

    def emit(
        self,
        operation: str,
        start: float,
        duration: float,
        ok: bool,
        error_type: str | None = None,
        error: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Fire an ``OperationEvent`` for this entry."""
        self.context.events.fire(
            OperationEvent(self.entry.name, self.entry.mode, operation, start, duration, ok, error_type,
                           error, attrs)
        )

    def mark(self, phase: str, status: str | None = None, message: str | None = None,
             attrs: Mapping[str, Any] | None = None, at: float | None = None) -> None:
        """Fire a ``ScenarioMark`` (started, finished, note) for this entry, now or ``at`` (epoch s)."""
        self.context.events.fire(
            ScenarioMark(self.entry.name, self.entry.mode, phase, at if at is not None else
                         self.context.clock.wall_now(), status, message, attrs)
        )

    @contextlib.contextmanager
    def timed(self, operation: str, attrs: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Time the block as ``operation``; an exception is recorded and re-raised.

        The yielded dict collects attributes to attach to the event.
        """
        extra: dict[str, Any] = dict(attrs or {})
        clock = self.context.clock
        start = clock.monotonic()
        try:
            yield extra
        except Exception as exc:
            error_type, message = classify_exception(exc)
            self.emit(operation, clock.wall_of(start), clock.monotonic() - start, False, error_type, message,
                      extra or None)
            raise
        self.emit(operation, clock.wall_of(start), clock.monotonic() - start, True, attrs=extra or None)

    def context_stats(self) -> str:
        """Counts of this entry's operations so far, e.g. ``create_run 12 ok 0 failed``."""
        return ""


class AsyncRunner(BaseRunner[EntryT]):
    """A runner whose work is a coroutine; blocking calls go through a bounded executor."""

    max_blocking_calls: int = 16

    def __init__(self, entry: EntryT, context: RunContext) -> None:
        super().__init__(entry, context)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.stopped_at: float | None = None  # clock.monotonic() when the stop signal reached the loop
        self.queue_waits = QueueWaits()
        self._calls_under_way: set[asyncio.Task[Any]] = set()  # attempt_async calls not finished yet

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop ``run_async`` runs on, once ``run`` started it."""
        return self._loop

    @final
    def run(self) -> None:
        runner = _new_loop_runner()
        with runner:
            runner.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(
            max_workers=self.max_blocking_calls, thread_name_prefix=f"{self.entry.name}-io"
        )
        self.on_stop(self._note_stopped)
        try:
            await self.run_async()
        finally:
            # Calls under way finish (bounded by the request timeout) so that each is recorded.
            if self._calls_under_way:
                await asyncio.gather(*self._calls_under_way, return_exceptions=True)
            await self.close_async()
            self._executor.shutdown(wait=True, cancel_futures=True)
            for note in self.queue_waits.notes(self.max_blocking_calls):
                self.mark("note", message=note)

    def _note_stopped(self) -> None:
        if self.stopped_at is None:
            self.stopped_at = self.context.clock.monotonic()

    @abstractmethod
    async def run_async(self) -> None:
        """The work, until ``await self.wait_stopped(...)`` says stop or the work is done."""

    async def close_async(self) -> None:
        """Release what ``run_async`` opened on the loop (sessions), after every call was recorded."""

    def on_stop(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on the runner's loop when the stop signal arrives (soon, if it has); call
        from the loop. Returns a function that removes it."""
        loop = asyncio.get_running_loop()

        def on_loop() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the run is over
                loop.call_soon_threadsafe(callback)

        return self.stopping.add_callback(on_loop)

    @property
    def stopped(self) -> bool:
        return self.stopping.is_set()

    async def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (on the run clock) for the stop signal; True when stopped."""
        return await self.stopping.wait_async(timeout, clock=self.context.clock)

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking function in the runner's bounded executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(*args, **kwargs))

    async def measure(
        self,
        operation: str,
        func: Callable[..., T],
        *args: Any,
        attrs: dict[str, Any] | None = None,
        on_late_result: Callable[[T], None] | None = None,
        **kwargs: Any,
    ) -> T | None:
        """Time a blocking call as ``operation``; record it; return its result, or None on failure.

        See ``attempt``, which also says how a call failed.
        """
        outcome = await self.attempt(operation, func, *args, attrs=attrs, on_late_result=on_late_result, **kwargs)
        return outcome.result

    async def attempt(
        self,
        operation: str,
        func: Callable[..., T],
        *args: Any,
        attrs: dict[str, Any] | None = None,
        on_late_result: Callable[[T], None] | None = None,
        requested_at: float | None = None,
        **kwargs: Any,
    ) -> Attempt[T]:
        """Time a blocking call as ``operation`` in the runner's bounded executor and record it.

        The call is timed from the moment it starts in its thread: the time it waited for a free thread
        is the harness's backlog, not the target's latency, and is recorded beside it as the event's
        ``queue_wait`` attribute (seconds), counted from ``requested_at`` (``clock.monotonic()``) when
        the caller waited for its turn before this, else from now.

        The call is recorded exactly once even when the awaiting task is cancelled while the call is
        under way (the runner winding down): the call finishes in its thread, is recorded there, and
        ``on_late_result`` receives its result (e.g. to clean up a run created at the last moment).
        """
        assert self._executor is not None
        now = self.context.clock.monotonic
        submitted = now() if requested_at is None else requested_at
        times: list[float] = []  # start, end (monotonic): written by the call's thread

        def timed_call() -> T:
            times.append(now())
            try:
                return func(*args, **kwargs)
            finally:
                times.append(now())

        call = self._executor.submit(timed_call)

        def record(done: Future[T]) -> Attempt[T]:
            if done.cancelled() or len(times) < 2:
                return Attempt(None, "not_started")  # never started: not an attempt
            start, end = times
            exc = done.exception()
            return self._record_attempt(operation, attrs, submitted, start, end, None, exc,
                                        None if exc is not None else done.result())

        try:
            await asyncio.wrap_future(call)
        except asyncio.CancelledError:
            def record_late(done: Future[T]) -> None:
                result = record(done).result
                if result is not None and on_late_result is not None:
                    on_late_result(result)

            call.add_done_callback(record_late)
            raise
        except Exception:
            pass  # recorded below from the future itself
        return record(call)

    async def attempt_async(
        self,
        operation: str,
        make_call: Callable[[], Awaitable[T]],
        *,
        attrs: dict[str, Any] | None = None,
        on_late_result: Callable[[T], None] | None = None,
        requested_at: float | None = None,
        exchange: Exchange | None = None,
    ) -> Attempt[T]:
        """Time a call that is a coroutine (an HTTP request on this loop) as ``operation``; record it.

        The same rules as ``attempt``: timed from the moment the request starts, ``queue_wait`` from
        ``requested_at`` (``clock.monotonic()``; the caller's wait for its turn) to then, recorded
        exactly once; when the awaiting task is cancelled, the request still finishes (``run_async``'s
        end waits for it, bounded by the request timeout), is recorded, and ``on_late_result`` receives
        its result.

        ``exchange``, filled in by the call (``RunApi``), narrows the latency to the exchange itself:
        from the request handed to the HTTP client to the answer's last bytes read from the socket, as a
        load tool times it. The rest of the call (the loop getting round to the answer, parsing it) is
        the harness's and is recorded beside it as ``harness_delay`` (seconds), not as latency.
        """
        now = self.context.clock.monotonic
        submitted = now() if requested_at is None else requested_at

        async def timed() -> Attempt[T]:
            start = now()
            try:
                result = await make_call()
            except Exception as exc:
                return self._record_attempt(operation, attrs, submitted, *_narrowed(start, now(), exchange), exc, None)
            return self._record_attempt(operation, attrs, submitted, *_narrowed(start, now(), exchange), None, result)

        call = asyncio.ensure_future(timed())
        self._calls_under_way.add(call)
        call.add_done_callback(self._calls_under_way.discard)
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            if on_late_result is not None:
                def hand_over(done: asyncio.Task[Attempt[T]]) -> None:
                    result = None if done.cancelled() else done.result().result
                    if result is not None:
                        on_late_result(result)

                call.add_done_callback(hand_over)
            raise

    def _record_attempt(self, operation: str, attrs: Mapping[str, Any] | None, submitted: float, start: float,
                        end: float, harness_delay: float | None, exc: BaseException | None,
                        result: T | None) -> Attempt[T]:
        """Record one measured call of ``attempt``/``attempt_async`` (monotonic ``submitted`` <= ``start`` <=
        ``end``): its queue wait, and its event with ``queue_wait`` (and ``harness_delay`` when known)
        beside the caller's ``attrs``; how it ended, for the caller. ``exc`` is what the call raised (None:
        it returned ``result``)."""
        wait = start - submitted
        latency = end - start
        self.queue_waits.add(operation, wait, latency)
        extra = {**attrs, "queue_wait": round(wait, 6)} if attrs else {"queue_wait": round(wait, 6)}
        if harness_delay is not None:
            extra["harness_delay"] = round(harness_delay, 6)
        start_wall = self.context.clock.wall_of(start)
        if exc is not None:
            error_type, message = classify_exception(exc)
            self.emit(operation, start_wall, latency, False, error_type, message, extra)
            return Attempt(None, error_type, message)
        self.emit(operation, start_wall, latency, True, attrs=extra)
        return Attempt(result)

    @staticmethod
    async def gather_cancelled(tasks: set[asyncio.Task[Any]]) -> None:
        """Cancel and await tasks (used when winding down)."""
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopped."""
        return await self.wait_stopped(max(0.0, seconds))



class QueueWaits:
    """Per operation: how long measured calls waited for their turn against how long they took.

    Thread-safe (a late call is recorded from its own thread). ``notes`` says which operations waited
    long compared with their latency: there the harness, not the target, was the bottleneck. What a call
    waited for is a blocking-call thread unless ``describe`` says otherwise (calls on the event loop wait
    for the runner's own slots).
    """

    #: A note when the mean wait is at least this share of the mean latency ...
    share: ClassVar[float] = 0.2
    #: ... and at least this many seconds.
    floor: ClassVar[float] = 0.005

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, list[float]] = {}  # operation -> [count, wait sum, latency sum, max wait]
        self._waited_for: dict[str, str] = {}

    def describe(self, operation: str, waited_for: str) -> None:
        """What ``operation``'s calls wait for, as the notes say it (e.g. "a free HTTP connection")."""
        self._waited_for[operation] = waited_for

    def add(self, operation: str, wait: float, latency: float) -> None:
        with self._lock:
            totals = self._totals.get(operation)
            if totals is None:
                totals = self._totals[operation] = [0.0, 0.0, 0.0, 0.0]
            totals[0] += 1
            totals[1] += wait
            totals[2] += latency
            totals[3] = max(totals[3], wait)

    def notes(self, threads: int) -> list[str]:
        """One line per operation whose calls queued long compared with their latency."""
        with self._lock:
            items = sorted(self._totals.items())
        notes = []
        for operation, (count, waits, latencies, longest) in items:
            wait, latency = waits / count, latencies / count
            if wait >= self.floor and wait >= self.share * latency:
                waited_for = self._waited_for.get(operation, f"one of the runner's {threads} blocking-call threads")
                notes.append(
                    f"{operation} calls waited {wait * 1000:.0f} ms on average (longest {longest * 1000:.0f} ms) "
                    f"for {waited_for}, against {latency * 1000:.0f} ms "
                    "of latency: the harness was the bottleneck (the wait is recorded as queue_wait, not as "
                    "latency; fewer calls at once, e.g. a smaller numTimes, avoid it)"
                )
        return notes


def _narrowed(start: float, end: float, exchange: Exchange | None) -> tuple[float, float, float | None]:
    """A coroutine call's (start, end, harness delay): the exchange's own span when it knows it (clamped to
    the call's), and as the harness delay the time from its answer read to the call's end (the wait before
    it was sent counts in ``queue_wait``); else the whole call and no delay."""
    if exchange is None or exchange.sent_at is None:
        return start, end, None
    sent = min(max(exchange.sent_at, start), end)
    read = end if exchange.read_at is None else min(max(exchange.read_at, sent), end)
    return sent, read, end - read


def _new_loop_runner() -> asyncio.Runner:
    """An asyncio runner on uvloop when installed, the default loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)
