"""The base of the modes that drive pipelines through the real ``kfp.Client``.

``PipelineRunner`` builds the client in ``prepare``, uploads the entry's pipeline once under a name that
is unique to the test run, and keeps track of what it created so ``cleanup`` can delete it as the
``PERF_CLEANUP`` policy says (``none``, ``runs``, or ``all`` — never anything the test did not create).
``track_run`` creates one run and polls it with ``get_run`` (capped by a FIFO ``PollLimiter``) until a
terminal state, recording create latency, time to RUNNING, run duration and final state. A run the
target no longer knows (``get_run`` answers 404 twice in a row: the target restarted, or something
deleted it) is an outcome too: ``run_duration`` fails with ``run_lost`` and the entry goes on.

Set-up and clean-up calls that are idempotent (lists, gets, get-or-create, deletes) are retried with
backoff when they fail transiently; an upload is retried after checking that the failed attempt did not
create the pipeline after all. Every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field

from perf_tests.errors import RunnerError
from perf_tests.load.exchange import Exchange
from perf_tests.load.http import kfp_session
from perf_tests.models.durations import Seconds
from perf_tests.models.fields import MAX_COUNT, MAX_RATE
from perf_tests.models.scenario import PipelineEntry
from perf_tests.recorder.failures import classify_exception
from perf_tests.runners.base_runner import AsyncRunner
from perf_tests.runners.poll_limiter import PollLimiter
from perf_tests.runners.run_status import RunApi, RunBody

__all__ = ["TERMINAL_STATES", "PipelineOptions", "PipelineRunner"]

TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "SKIPPED", "ERROR", "CANCELED", "CANCELLED"})
STARTED_STATES = frozenset({"RUNNING"}) | TERMINAL_STATES
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_POLL_BACKOFF = 5.0
_RETRY_ATTEMPTS = 5  # an idempotent set-up or clean-up call: pauses of 0.25, 0.5, 1 and 2 s between attempts
_RETRY_PAUSE = 0.25
_CLEANUP_CONCURRENCY = 8
_LOST_AFTER_404S = 2  # consecutive "not found" answers to get_run before a run counts as lost
_LATE_POLL_FACTOR = 2.0  # a poll later than this many poll intervals after the run's previous one is late


def is_transient(error_type: str) -> bool:
    """Whether a failed call may succeed if tried again (connection, timeout, HTTP 5xx, 429)."""
    return error_type in ("connection", "timeout", "http_429") or error_type.startswith("http_5")


class PipelineOptions(PipelineEntry):
    """Fields of the modes that create pipeline runs and wait for them."""

    operations: ClassVar[tuple[str, ...]] = (
        "upload_pipeline",
        "find_pipeline_versions",
        "get_default_experiment",
        "create_experiment",
        "create_run",
        "get_run",
        "time_to_running",
        "run_duration",
        "terminate_run",
        "delete_run",
        "delete_pipeline_version",
        "delete_pipeline",
        "delete_experiment",
    )
    setup_operations: ClassVar[frozenset[str]] = frozenset({
        "upload_pipeline", "find_pipeline_versions", "get_default_experiment", "create_experiment", "terminate_run",
        "delete_run", "delete_pipeline_version", "delete_pipeline", "delete_experiment",
    })

    total_runs: int | None = Field(
        default=None, ge=1, le=MAX_COUNT,
        description="Stop after creating this many runs (default: until runTime ends).",
    )
    poll_interval: Seconds = Field(default=1.0, gt=0, description="Seconds between get_run polls of one run.")
    max_polls_per_second: float = Field(
        default=20.0, gt=0, le=MAX_RATE,
        description="Cap on get_run calls per second across all runs of the entry.",
    )
    drain_time: Seconds = Field(
        default=0.0, description="After runTime, wait this long for runs in flight before terminating them."
    )


OptionsT = TypeVar("OptionsT", bound=PipelineOptions)


def unique_name(*parts: str) -> str:
    """A KFP display name from parts, safe characters only, at most 100 characters."""
    return _NAME_UNSAFE.sub("-", "-".join(p for p in parts if p)).strip("-")[:100]


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    return None


class PipelineRunner(AsyncRunner[OptionsT], Generic[OptionsT]):
    """Shared machinery of PIPELINE_RUN, EXPERIMENT, PIPELINE_UPLOAD and PIPELINE_SCHEDULED_RUN."""

    def __init__(self, entry: OptionsT, context: Any) -> None:
        super().__init__(entry, context)
        self.client: Any = None
        self.pipeline_id: str | None = None
        self.version_id: str | None = None
        self.experiment_id: str | None = None
        self.created_pipelines: list[str] = []
        self.created_experiments: list[str] = []
        self.created_runs: list[str] = []
        self.unfinished_runs: set[str] = set()
        self.lost_runs: set[str] = set()
        self.runs_done = 0
        self.runs_failed = 0
        self.polls = 0
        self.late_polls = 0
        self.longest_poll_gap = 0.0
        self._limiter: PollLimiter | None = None
        self._create_slots: asyncio.Semaphore | None = None
        self._run_api: RunApi | None = None
        self._http_slots: asyncio.Semaphore | None = None
        self._body_template: tuple[tuple[str | None, ...], RunBody] | None = None
        self._session: Any = None
        self._reprepared: asyncio.Task[bool] | None = None
        self._lost_at_reprepare = 0
        # Threads for blocking client calls. More threads than this do not make a CPU-bound client faster
        # (one GIL); they make every call wait for the others while it is timed: creating 1,000 runs at
        # once recorded create_run p50 185 ms with 64 threads, 56 ms with 16 (bench/RESULTS.md). The wait
        # for a free thread instead is recorded apart, as queue_wait.
        self.max_blocking_calls = min(16, max(8, entry.num_times * 2))

    # -- prepare ------------------------------------------------------------------------------------
    def prepare(self) -> None:
        target = self.context.require_kfp()
        self.client = target.client(pool_size=self.max_blocking_calls)
        self.create_objects()

    def create_objects(self) -> None:
        """What the entry needs on the target before it starts (and again if the target forgot it)."""

    def upload_pipeline(self, suffix: str = "") -> tuple[str, str]:
        """Upload the entry's pipeline under a unique name; return (pipeline id, version id).

        A transient failure is retried; before each retry the name is looked up, since an upload whose
        answer was lost may have created the pipeline after all (it is then used, not uploaded twice).
        """
        assert self.entry.pipeline_path is not None, "scenario loader resolves pipeline files"
        name = unique_name("perf", self.context.run_id, self.entry.name, suffix, self.entry.pipeline_path.stem)
        pipeline_id: str | None = None
        for attempt in range(_RETRY_ATTEMPTS):
            try:
                with self.timed("upload_pipeline", {"pipeline_name": name, **({"retry": attempt} if attempt else {})}) \
                        as attrs:
                    pipeline = self.client.upload_pipeline(
                        pipeline_package_path=str(self.entry.pipeline_path),
                        pipeline_name=name,
                        description=f"perf-tests run {self.context.run_id}, entry {self.entry.name}",
                    )
                    attrs["pipeline_id"] = pipeline.pipeline_id
                pipeline_id = str(pipeline.pipeline_id)
                break
            except Exception as exc:
                error_type, message = classify_exception(exc)
                # 409: an earlier attempt whose answer was lost created it. Otherwise only transient errors.
                if error_type != "http_409" and (not is_transient(error_type) or attempt == _RETRY_ATTEMPTS - 1):
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise RunnerError(
                        f"could not upload pipeline {self.entry.pipeline_file_name} as {name}: {message}{tries}"
                    ) from None
                found, _ = self.retried_call("find_pipeline", self.client.get_pipeline_id, name, phase="prepare")
                if found:
                    pipeline_id = str(found)
                    break
                if error_type == "http_409" or self.pause_before_retry(attempt):
                    raise RunnerError(
                        f"could not upload pipeline {self.entry.pipeline_file_name} as {name}: {message}"
                    ) from None
        assert pipeline_id is not None
        self.created_pipelines.append(pipeline_id)
        versions, error = self.retried_call("find_pipeline_versions", self.client.list_pipeline_versions,
                                            pipeline_id=pipeline_id, page_size=1, phase="prepare")
        if versions is None:
            raise RunnerError(f"pipeline {name} was uploaded, but listing its versions failed: {error}")
        version_list = versions.pipeline_versions or []
        if not version_list:
            raise RunnerError(f"pipeline {name} was uploaded but the API lists no version for it")
        return pipeline_id, str(version_list[0].pipeline_version_id)

    def prepare_pipeline(self) -> None:
        """Upload once; a failure ends the entry with a clear error."""
        try:
            self.pipeline_id, self.version_id = self.upload_pipeline()
        except RunnerError:
            raise
        except Exception as exc:
            _, message = classify_exception(exc)
            raise RunnerError(
                f"could not upload pipeline {self.entry.pipeline_file_name}: {message}"
            ) from None

    def use_default_experiment(self) -> None:
        """The experiment named ``Default`` (created if missing, never deleted)."""
        namespace = self.context.settings.connection.namespace if self.context.settings.connection.multi_user \
            else None
        # Get-or-create by name is idempotent: transient failures are retried.
        experiment, error = self.retried_call("get_default_experiment", self.client.create_experiment,
                                              name="Default", namespace=namespace, phase="prepare")
        if experiment is None:
            raise RunnerError(f"could not get the default experiment: {error}")
        self.experiment_id = experiment.experiment_id

    # -- running ------------------------------------------------------------------------------------
    def run_api(self) -> RunApi:
        """create_run / get_run on this loop (opened on first use, closed by ``close_async``)."""
        if self._run_api is None:
            target = self.context.require_kfp()
            self._session = kfp_session(target, self.max_blocking_calls)
            self._run_api = RunApi(self._session, target.url, self.client, clock=self.context.clock.monotonic)
            connections = f"a free HTTP connection (one of the runner's {self.max_blocking_calls}, on its event loop)"
            self.queue_waits.describe("get_run", connections)
            self.queue_waits.describe(
                "create_run", f"a create slot ({self.creates_at_once} at once) and {connections}"
            )
        return self._run_api

    def run_body(self, api: RunApi, name: str) -> bytes:
        """The create_run body for a run named ``name``: kfp's body for this entry's pipeline version and
        experiment, encoded once per (pipeline, version, experiment), with each run's name spliced in. On
        the loop, every create's body costs less than building one would (which would delay the
        answers of the calls under way, and so their recorded latency)."""
        key = (self.pipeline_id, self.version_id, self.experiment_id)
        if self._body_template is None or self._body_template[0] != key:
            template = api.run_body(
                experiment_id=self.experiment_id, params=self.entry.params or None,
                pipeline_id=self.pipeline_id, version_id=self.version_id,
                enable_caching=self.context.settings.connection.cache_enabled,
            )
            self._body_template = (key, template)
        return self._body_template[1].named(name)

    @property
    def http_slots(self) -> asyncio.Semaphore:
        """One per connection of the session: a request waits here (queue_wait), never inside aiohttp's
        pool, where the wait would be timed as the target's latency."""
        if self._http_slots is None:
            self._http_slots = asyncio.Semaphore(self.max_blocking_calls)
        return self._http_slots

    async def close_async(self) -> None:
        if self._session is not None:
            await self._session.close()
        await super().close_async()

    @property
    def creates_at_once(self) -> int:
        """Creates under way at once: half the connections."""
        return max(1, self.max_blocking_calls // 2)

    @property
    def create_slots(self) -> asyncio.Semaphore:
        """``creates_at_once`` slots for creates (made on the runner's loop)."""
        if self._create_slots is None:
            self._create_slots = asyncio.Semaphore(self.creates_at_once)
        return self._create_slots

    @property
    def limiter(self) -> PollLimiter:
        """The entry's cap on ``get_run`` calls per second (created on the runner's event loop)."""
        if self._limiter is None:
            self._limiter = PollLimiter(self.entry.max_polls_per_second, clock=self.context.clock)
        return self._limiter

    async def keep_runs_in_flight(self) -> None:
        """Keep ``numTimes`` runs in flight until stopped or ``totalRuns`` were created."""
        in_flight: set[asyncio.Task[bool]] = set()
        ended: list[asyncio.Task[bool]] = []
        changed = asyncio.Event()
        self.on_stop(changed.set)

        def on_done(task: asyncio.Task[bool]) -> None:
            ended.append(task)
            changed.set()

        created = 0
        limit = self.entry.total_runs
        refused_in_a_row = 0
        while not self.stopped and (limit is None or created < limit):
            while len(in_flight) < self.entry.num_times and (limit is None or created < limit):
                created += 1
                task = asyncio.create_task(self.track_run(created))
                task.add_done_callback(on_done)
                in_flight.add(task)
            # One event for every run's end: waiting on 1,000 tasks with asyncio.wait each time one of
            # them ends would cost a callback per task per ended run.
            await changed.wait()
            changed.clear()
            finished, ended[:] = list(ended), []
            in_flight.difference_update(finished)
            refused = sum(1 for task in finished if not task.cancelled() and not task.result())
            refused_in_a_row = refused_in_a_row + refused if refused else 0
            # A target refusing every create must not be hammered in a tight loop: back off a little.
            if refused_in_a_row and await self.sleep(min(5.0, 0.1 * refused_in_a_row)):
                break
        if limit is not None and created < limit:
            self.mark("note", message=f"created {created} of the {limit} runs of totalRuns before the entry "
                      "ended", attrs={"runs_not_created": limit - created})
        if in_flight and not self.stopped:
            # totalRuns reached: the last runs still count, follow them until they end or runTime does.
            while in_flight and not self.stopped:
                await changed.wait()
                changed.clear()
                in_flight.difference_update(ended)
                ended.clear()
        if in_flight and self.entry.drain_time > 0:
            await asyncio.wait(in_flight, timeout=self.entry.drain_time)
        await self.gather_cancelled({t for t in in_flight if not t.done()})

    async def track_run(self, number: int) -> bool:
        """Create one run and poll it to a terminal state (or until stopped); False if the create failed."""
        name = unique_name("perf", self.entry.name, str(number))
        requested = self.context.clock.monotonic()
        # Creates take at most half the connections: a burst of thousands must not queue ahead of every poll.
        async with self.create_slots:
            created_at = self.context.clock.wall_now()
            used_pipeline = self.pipeline_id
            api = self.run_api()
            body = self.run_body(api, name)
            exchange = Exchange()
            async with self.http_slots:
                outcome = await self.attempt_async("create_run", partial(api.create, body, exchange),
                                                   on_late_result=self._adopt_late_run, requested_at=requested,
                                                   exchange=exchange)
        run = outcome.result
        if run is None:
            if outcome.error_type == "http_404" and self.lost_runs:
                await self.create_objects_again(used_pipeline)
            return False
        run_id = str(run.run_id)
        self.created_runs.append(run_id)
        self.unfinished_runs.add(run_id)
        await self.follow_run(run_id, created_at)
        return True

    async def create_objects_again(self, used_pipeline: str | None) -> bool:
        """The target lost runs and now refuses new ones as "not found": it forgot the pipeline (and
        experiment) too, e.g. it restarted without its database. Create them again, at most once per
        loss, and not when the failed create used objects an earlier re-creation already replaced."""
        previous = self._reprepared
        if previous is None or (previous.done() and used_pipeline == self.pipeline_id
                                and self._lost_at_reprepare < len(self.lost_runs)):
            self._lost_at_reprepare = len(self.lost_runs)
            self._reprepared = asyncio.create_task(self._create_objects_again())
        assert self._reprepared is not None
        return await asyncio.shield(self._reprepared)

    async def _create_objects_again(self) -> bool:
        old = self.pipeline_id
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.create_objects)
        except Exception as exc:
            message = str(exc) if isinstance(exc, RunnerError) else classify_exception(exc)[1]
            self.mark("note", message=f"the target lost {len(self.lost_runs)} runs and refuses new ones (not "
                      f"found); creating the pipeline and experiment again failed: {message}")
            return False
        self.mark("note", message=f"the target lost {len(self.lost_runs)} runs and refused new ones as not found "
                  f"(restarted without its data?): the pipeline was uploaded again ({old} -> {self.pipeline_id})")
        return True

    def _adopt_late_run(self, run: Any) -> None:
        """A run created while the entry was winding down: cleanup must still terminate and delete it."""
        self.created_runs.append(str(run.run_id))
        self.unfinished_runs.add(str(run.run_id))

    async def follow_run(self, run_id: str, created_at: float) -> None:
        """Poll ``get_run`` until the run ends; record time to RUNNING, duration and final state.

        Each ``get_run`` event carries ``poll_gap``: seconds since this run's previous poll began (or since
        it was created), the poll interval the run actually got.
        """
        seen_running = False
        failed_polls = 0
        not_found = 0
        interval = self.entry.poll_interval
        api = self.run_api()
        last_poll = self.context.clock.monotonic()
        while True:
            # A failed poll is a data point, not a reason to stop tracking the run: retry with backoff.
            delay = interval if not failed_polls else min(_MAX_POLL_BACKOFF, interval * 2**failed_polls)
            if await self.poll_pause(delay):
                return
            async with self.limiter:
                now = self.context.clock.monotonic()
                gap, last_poll = now - last_poll, now
                self.polls += 1
                self.longest_poll_gap = max(self.longest_poll_gap, gap)
                if not failed_polls and gap > _LATE_POLL_FACTOR * interval:
                    self.late_polls += 1
                attrs: dict[str, Any] = {"poll_gap": round(gap, 6)}
                if failed_polls:
                    attrs.update(run_id=run_id, retry=failed_polls)
                requested = self.context.clock.monotonic()
                exchange = Exchange()
                async with self.http_slots:
                    outcome = await self.attempt_async("get_run", partial(api.get, run_id, exchange), attrs=attrs,
                                                       requested_at=requested, exchange=exchange)
            run = outcome.result
            if run is None:
                not_found = not_found + 1 if outcome.error_type == "http_404" else 0
                if not_found >= _LOST_AFTER_404S:
                    self.record_lost_run(run_id, created_at)
                    return
                failed_polls += 1
                continue
            failed_polls = not_found = 0
            state = str(run.state or "").upper()
            if not seen_running and state in STARTED_STATES:
                seen_running = True
                self.record_time_to_running(run, run_id, created_at)
            if state in TERMINAL_STATES:
                self.unfinished_runs.discard(run_id)
                self.record_finished_run(run, run_id, state, created_at)
                return

    async def poll_pause(self, delay: float) -> bool:
        """Sleep ``delay`` between two polls of a run; True when the run is no longer to be followed:
        the entry stopped and ``drainTime`` is over (or there is none, or the run was aborted)."""
        began = self.context.clock.monotonic()
        if not await self.sleep(delay):
            return False
        if self.entry.drain_time <= 0 or self.context.abort.is_set():
            return True
        deadline = (self.stopped_at or began) + self.entry.drain_time
        rest = delay - (self.context.clock.monotonic() - began)
        if self.context.clock.monotonic() + max(0.0, rest) >= deadline:
            return True
        await asyncio.sleep(max(0.0, rest))
        return self.context.abort.is_set()

    def record_lost_run(self, run_id: str, created_at: float) -> None:
        """A run the target no longer knows: a ``run_duration`` that ended ``run_lost``."""
        self.unfinished_runs.discard(run_id)
        self.lost_runs.add(run_id)
        self.runs_done += 1
        self.runs_failed += 1
        lost_after = max(0.0, self.context.clock.wall_now() - created_at)
        self.emit("run_duration", created_at, lost_after, False, error_type="run_lost",
                  error=f"the target no longer knows run {run_id} (get_run answered 404 {_LOST_AFTER_404S} times)",
                  attrs={"run_id": run_id, "state": "LOST"})

    def poll_notes(self) -> list[str]:
        """What did not go as planned with the polls and runs (for the entry's notes)."""
        notes = []
        if self.late_polls:
            interval = self.entry.poll_interval
            wanted = self.entry.num_times / interval
            cap = self.entry.max_polls_per_second
            why = (f"numTimes {self.entry.num_times} every {interval:g}s wants {wanted:g} polls/s, above "
                   f"maxPollsPerSecond {cap:g}" if wanted > cap else "the harness or the target fell behind")
            notes.append(f"{self.late_polls} of {self.polls} get_run polls came more than {_LATE_POLL_FACTOR:g}x "
                         f"pollInterval ({interval:g}s) after the run's previous poll (longest gap "
                         f"{self.longest_poll_gap:.1f}s): {why}")
        if self.lost_runs:
            notes.append(f"{len(self.lost_runs)} runs disappeared from the target while followed (get_run answered "
                         "404: it restarted, or something deleted them); recorded as run_duration run_lost")
        return notes

    def record_time_to_running(self, run: Any, run_id: str, created_at: float) -> None:
        """Creation to RUNNING: from the server's state history when it has one (poll-interval free),
        else as the client saw it."""
        server_created = _timestamp(run.created_at)
        running_at = next(
            (_timestamp(status.update_time) for status in (run.state_history or [])
             if str(status.state or "").upper() == "RUNNING" and status.update_time is not None),
            None,
        )
        if server_created is not None and running_at is not None:
            start, duration, source = server_created, running_at - server_created, "server"
        else:
            start, duration, source = created_at, self.context.clock.wall_now() - created_at, "client"
        self.emit("time_to_running", start, max(0.0, duration), True, attrs={"run_id": run_id, "source": source})

    def record_finished_run(self, run: Any, run_id: str, state: str, created_at: float) -> None:
        started = _timestamp(run.created_at) or created_at
        finished = _timestamp(run.finished_at) or self.context.clock.wall_now()
        ok = state == "SUCCEEDED"
        self.runs_done += 1
        if not ok:
            self.runs_failed += 1
        error = None
        if not ok and getattr(run, "error", None) is not None:
            error = str(getattr(run.error, "message", "") or run.error)
        self.emit(
            "run_duration",
            started,
            max(0.0, finished - started),
            ok,
            error_type=None if ok else f"run_{state.lower()}",
            error=error,
            attrs={"run_id": run_id, "state": state},
        )

    def context_stats(self) -> str:
        in_flight = len(self.unfinished_runs)
        return (f"{len(self.created_runs)} runs created, {in_flight} in flight, "
                f"{self.runs_done} finished ({self.runs_failed} not SUCCEEDED)")

    # -- cleanup ------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        if self.client is None:
            return
        policy = self.context.settings.results.cleanup
        for note in self.poll_notes():
            self.mark("note", message=note)
        if self.unfinished_runs:
            self.mark("note", message=f"{len(self.unfinished_runs)} runs had not ended when the entry stopped "
                      "and were terminated (not counted in run_duration; drainTime lets them finish)",
                      attrs={"runs_unfinished": len(self.unfinished_runs)})
        # Many objects, each call independent: clean up several at a time.
        with ThreadPoolExecutor(max_workers=_CLEANUP_CONCURRENCY, thread_name_prefix=f"{self.entry.name}-cleanup") \
                as pool:
            list(pool.map(lambda run_id: self._cleanup_call("terminate_run", self._terminate, run_id),
                          sorted(self.unfinished_runs)))
            if policy == "none":
                return
            list(pool.map(lambda run_id: self._cleanup_call("delete_run", self.client.delete_run, run_id),
                          [run_id for run_id in self.created_runs if run_id not in self.lost_runs]))
            if policy != "all":
                return
            list(pool.map(self._delete_pipeline, self.created_pipelines))
        for experiment_id in self.created_experiments:  # after its runs are gone
            self._cleanup_call("delete_experiment", self.client.delete_experiment, experiment_id)

    def _terminate(self, run_id: str) -> None:
        """Terminate a run; KFP answers 400 when it has already ended (``RunStore.TerminateRun``), which is fine."""
        try:
            self.client.terminate_run(run_id)
        except Exception as exc:
            if getattr(exc, "status", None) != 400:
                raise

    def _delete_pipeline(self, pipeline_id: str) -> None:
        versions = self._cleanup_call("find_pipeline_versions", self.client.list_pipeline_versions,
                                      pipeline_id=pipeline_id, page_size=100)
        for version in (versions.pipeline_versions or []) if versions is not None else []:
            self._cleanup_call("delete_pipeline_version", self.client.delete_pipeline_version, pipeline_id,
                               version.pipeline_version_id)
        self._cleanup_call("delete_pipeline", self.client.delete_pipeline, pipeline_id)

    def _cleanup_call(self, operation: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """An idempotent clean-up call, retried; its result, or None when it failed (logged)."""
        return self.retried_call(operation, func, *args, **kwargs)[0]

    def retried_call(self, operation: str, func: Any, *args: Any, phase: str = "cleanup",
                     **kwargs: Any) -> tuple[Any, str | None]:
        """An idempotent set-up or clean-up call (a list, a get, a get-or-create, a delete), each attempt
        recorded; transient failures are retried with backoff. Returns (result, None), or (None, what
        failed) once it failed for good (logged as failing during ``phase``)."""
        for attempt in range(_RETRY_ATTEMPTS):
            try:
                with self.timed(operation, {"retry": attempt} if attempt else None):
                    return func(*args, **kwargs), None
            except Exception as exc:
                error_type, message = classify_exception(exc)
                last = not is_transient(error_type) or attempt == _RETRY_ATTEMPTS - 1
                if last or self.pause_before_retry(attempt):
                    target = args[0] if args else kwargs.get("pipeline_id", kwargs.get("name", ""))
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    self.log.warning("%s %s failed during %s: %s%s", operation, target, phase, message, tries)
                    return None, f"{operation} failed: {message}{tries}"
        raise AssertionError("unreachable")  # pragma: no cover

    def pause_before_retry(self, attempt: int) -> bool:
        """Wait before retry ``attempt + 1`` (0.25 s, doubling); True when the test run was aborted
        meanwhile (Ctrl-C, SIGTERM). Not the entry's own stop: clean-up always runs after it."""
        return self.context.abort.wait(_RETRY_PAUSE * 2**attempt, clock=self.context.clock)
