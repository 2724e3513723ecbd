"""The base of the modes that drive pipelines through the real ``kfp.Client``.

``PipelineRunner`` builds the client in ``prepare``, uploads the entry's pipeline once under a name that
is unique to the test run, and keeps track of what it created so ``cleanup`` can delete it as the
``PERF_CLEANUP`` policy says (``none``, ``runs``, or ``all`` — never anything the test did not create).
``track_run`` creates one run and polls it with ``get_run`` (rate-capped with asyncio-throttle) until a
terminal state, recording create latency, time to RUNNING, run duration and final state.
"""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from asyncio_throttle.throttler import Throttler
from pydantic import Field

from perf_tests.errors import RunnerError
from perf_tests.models.durations import Seconds
from perf_tests.models.scenario import PipelineEntry
from perf_tests.recorder.failures import classify_exception
from perf_tests.runners.base_runner import AsyncRunner

__all__ = ["TERMINAL_STATES", "PipelineOptions", "PipelineRunner"]

TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "SKIPPED", "ERROR", "CANCELED", "CANCELLED"})
STARTED_STATES = frozenset({"RUNNING"}) | TERMINAL_STATES
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_POLL_BACKOFF = 5.0
_CLEANUP_ATTEMPTS = 3
_CLEANUP_CONCURRENCY = 8


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

    total_runs: int | None = Field(
        default=None, ge=1, description="Stop after creating this many runs (default: until runTime ends)."
    )
    poll_interval: Seconds = Field(default=1.0, gt=0, description="Seconds between get_run polls of one run.")
    max_polls_per_second: float = Field(
        default=20.0, gt=0, description="Cap on get_run calls per second across all runs of the entry."
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
        self.runs_done = 0
        self.runs_failed = 0
        self._throttler: Throttler | None = None
        self.max_blocking_calls = min(64, max(8, entry.num_times * 2))

    # -- prepare ------------------------------------------------------------------------------------
    def prepare(self) -> None:
        target = self.context.require_kfp()
        self.client = target.client(pool_size=self.max_blocking_calls)

    def upload_pipeline(self, suffix: str = "") -> tuple[str, str]:
        """Upload the entry's pipeline under a unique name; return (pipeline id, version id)."""
        assert self.entry.pipeline_path is not None, "scenario loader resolves pipeline files"
        name = unique_name("perf", self.context.run_id, self.entry.name, suffix, self.entry.pipeline_path.stem)
        with self.timed("upload_pipeline", {"pipeline_name": name}) as attrs:
            pipeline = self.client.upload_pipeline(
                pipeline_package_path=str(self.entry.pipeline_path),
                pipeline_name=name,
                description=f"perf-tests run {self.context.run_id}, entry {self.entry.name}",
            )
            attrs["pipeline_id"] = pipeline.pipeline_id
        self.created_pipelines.append(pipeline.pipeline_id)
        versions = self._cleanup_call("find_pipeline_versions", self.client.list_pipeline_versions,
                                      pipeline_id=pipeline.pipeline_id, page_size=1)
        version_list = (versions.pipeline_versions or []) if versions is not None else []
        if not version_list:
            raise RunnerError(f"pipeline {name} was uploaded but the API lists no version for it")
        return str(pipeline.pipeline_id), str(version_list[0].pipeline_version_id)

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
        # Get-or-create by name is idempotent: transient failures are retried like clean-up calls.
        experiment = self._cleanup_call("get_default_experiment", self.client.create_experiment, name="Default",
                                        namespace=namespace)
        if experiment is None:
            raise RunnerError("could not get the default experiment (see the get_default_experiment errors)")
        self.experiment_id = experiment.experiment_id

    # -- running ------------------------------------------------------------------------------------
    @property
    def throttler(self) -> Throttler:
        if self._throttler is None:
            self._throttler = Throttler(rate_limit=max(1, round(self.entry.max_polls_per_second)), period=1.0)
        return self._throttler

    async def keep_runs_in_flight(self) -> None:
        """Keep ``numTimes`` runs in flight until stopped or ``totalRuns`` were created."""
        in_flight: set[asyncio.Task[bool]] = set()
        created = 0
        limit = self.entry.total_runs
        refused_in_a_row = 0
        while not self.stopped and (limit is None or created < limit):
            while len(in_flight) < self.entry.num_times and (limit is None or created < limit):
                created += 1
                in_flight.add(asyncio.create_task(self.track_run(created)))
            stop_waiter = asyncio.create_task(self.wait_stopped())
            done, _ = await asyncio.wait(in_flight | {stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
            stop_waiter.cancel()
            finished = {task for task in done if task is not stop_waiter}
            in_flight -= finished
            refused = sum(1 for task in finished if not task.result())
            refused_in_a_row = refused_in_a_row + refused if refused else 0
            # A target refusing every create must not be hammered in a tight loop: back off a little.
            if refused_in_a_row and await self.sleep(min(5.0, 0.1 * refused_in_a_row)):
                break
        if in_flight and not self.stopped:
            # totalRuns reached: the last runs still count, follow them until they end or runTime does.
            stop_waiter = asyncio.create_task(self.wait_stopped())
            while in_flight and not stop_waiter.done():
                done, _ = await asyncio.wait(in_flight | {stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
                in_flight -= {task for task in done if task is not stop_waiter}
            stop_waiter.cancel()
        if in_flight and self.entry.drain_time > 0:
            await asyncio.wait(in_flight, timeout=self.entry.drain_time)
        await self.gather_cancelled({t for t in in_flight if not t.done()})

    async def track_run(self, number: int) -> bool:
        """Create one run and poll it to a terminal state (or until stopped); False if the create failed."""
        name = unique_name("perf", self.entry.name, str(number))
        created_at = time.time()
        run = await self.measure(
            "create_run",
            self.client.run_pipeline,
            on_late_result=self._adopt_late_run,
            experiment_id=self.experiment_id,
            job_name=name,
            params=self.entry.params or None,
            pipeline_id=self.pipeline_id,
            version_id=self.version_id,
            enable_caching=self.context.settings.connection.cache_enabled,
        )
        if run is None:
            return False
        run_id = str(run.run_id)
        self.created_runs.append(run_id)
        self.unfinished_runs.add(run_id)
        await self.follow_run(run_id, created_at)
        return True

    def _adopt_late_run(self, run: Any) -> None:
        """A run created while the entry was winding down: cleanup must still terminate and delete it."""
        self.created_runs.append(str(run.run_id))
        self.unfinished_runs.add(str(run.run_id))

    async def follow_run(self, run_id: str, created_at: float) -> None:
        """Poll ``get_run`` until the run ends; record time to RUNNING, duration and final state."""
        seen_running = False
        failed_polls = 0
        while True:
            # A failed poll is a data point, not a reason to stop tracking the run: retry with backoff.
            delay = self.entry.poll_interval if not failed_polls else min(_MAX_POLL_BACKOFF,
                                                                         self.entry.poll_interval * 2**failed_polls)
            if await self.sleep(delay):
                return
            async with self.throttler:
                run = await self.measure("get_run", self.client.get_run, run_id,
                                         attrs={"run_id": run_id, "retry": failed_polls} if failed_polls else None)
            if run is None:
                failed_polls += 1
                continue
            failed_polls = 0
            state = str(run.state or "").upper()
            if not seen_running and state in STARTED_STATES:
                seen_running = True
                self.record_time_to_running(run, run_id, created_at)
            if state in TERMINAL_STATES:
                self.unfinished_runs.discard(run_id)
                self.record_finished_run(run, run_id, state, created_at)
                return

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
            start, duration, source = created_at, time.time() - created_at, "client"
        self.emit("time_to_running", start, max(0.0, duration), True, attrs={"run_id": run_id, "source": source})

    def record_finished_run(self, run: Any, run_id: str, state: str, created_at: float) -> None:
        started = _timestamp(run.created_at) or created_at
        finished = _timestamp(run.finished_at) or time.time()
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
                          self.created_runs))
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
        """An idempotent set-up or clean-up call (a get, a delete), recorded; transient failures are
        retried twice. Returns the result, or None when it failed."""
        for attempt in range(_CLEANUP_ATTEMPTS):
            try:
                with self.timed(operation, {"retry": attempt} if attempt else None):
                    return func(*args, **kwargs)
            except Exception as exc:
                error_type, message = classify_exception(exc)
                transient = error_type in ("connection", "timeout") or error_type.startswith("http_5")
                if not transient or attempt == _CLEANUP_ATTEMPTS - 1:
                    target = args[0] if args else kwargs.get("pipeline_id", "")
                    self.log.warning("%s %s failed during cleanup: %s", operation, target, message)
                    return None
                time.sleep(0.2 * (attempt + 1))  # a short pause before retrying an idempotent delete
        return None
