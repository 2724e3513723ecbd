"""The PipelineRuns of one scenario entry: create, follow until done, cancel, collect, delete.

``PipelineRunSession`` is independent of what the PipelineRuns run. It follows them with one watch on
the entry's labels (renewed every ``TEKTON_WATCH_TIMEOUT`` seconds; a renewed watch starts from the
current state, so nothing is missed) and falls back to reading each PipelineRun every
``TEKTON_POLL_INTERVAL`` seconds when watching is not allowed or keeps failing. ``wait`` returns when
every PipelineRun's ``Succeeded`` condition is True or False; on ``stop()`` or at the deadline it
cancels the unfinished ones (merge patch ``spec.status: Cancelled``) and waits ``TEKTON_CANCEL_GRACE``
seconds for Tekton to wind them down. ``collect`` reads each run's outcome, results, queueing delay
(creation to the first TaskRun pod's start), the report between the markers of the pod log and, for a
failure, the failing step and its last log lines. Operations are reported through ``emit`` as
``tekton_create``, ``tekton_queue``, ``tekton_run``, ``tekton_cancel`` and ``tekton_delete``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perf_tests.errors import PerfTestsError, TargetError
from perf_tests.logger.redaction import redact
from perf_tests.recorder.events import EmitOperation
from perf_tests.tekton.client import TektonClient, WatchExpired
from perf_tests.tekton.logs import StepFailure, extract_report, failed_step, step_containers
from perf_tests.tekton.pipelinerun import SucceededCondition, TaskLocation, outcome, parse_time, pipelinerun_results
from perf_tests.tekton.settings import TektonSettings

__all__ = ["OPERATIONS", "Emit", "FinishedPipelineRun", "PipelineRunSession"]

OPERATIONS = ("tekton_cancel", "tekton_create", "tekton_delete", "tekton_queue", "tekton_run")
_MAX_POLL_BACKOFF = 60.0
logger = logging.getLogger(__name__)


Emit = EmitOperation  # where the session reports timed operations


def _no_emit(
    operation: str,
    start: float,
    duration: float,
    ok: bool,
    error_type: str | None = None,
    error: str | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> None:
    """Emit nowhere."""


@dataclass
class _Run:
    name: str
    instance: int | None
    latest: dict[str, Any]
    cancelled: str = ""  # why it was cancelled ("timeout", "stopped"), empty when it was not


@dataclass
class FinishedPipelineRun:
    """What one finished (or abandoned) PipelineRun left: outcome, timings, report, failure details."""

    name: str
    instance: int | None
    outcome: SucceededCondition
    results: dict[str, str] = field(default_factory=dict)
    report: tuple[str, bytes] | None = None
    created: float | None = None
    started: float | None = None  # the first TaskRun pod's start (epoch seconds)
    completed: float | None = None
    queue_delay: float | None = None
    cancelled: str = ""
    failed_step: StepFailure | None = None
    log_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome.succeeded

    @property
    def duration(self) -> float | None:
        """Seconds from the first pod's start (or creation) to completion."""
        begin = self.started if self.started is not None else self.created
        if begin is None or self.completed is None:
            return None
        return max(0.0, self.completed - begin)

    def problem(self) -> str:
        """A message saying why the run did not succeed (empty when it did)."""
        if self.ok:
            return ""
        state = self.outcome
        if state.reason == "CouldntGetTask" or ("retrieve Task" in state.message and "not found" in state.message):
            return f"PipelineRun {self.name}: the cluster resolver could not get the Task ({state.message})"
        if not state.done:
            text = f"PipelineRun {self.name} did not finish ({state.reason or 'Pending'})"
        else:
            text = f"PipelineRun {self.name} failed: {state.reason}"
            if state.message:
                text += f": {state.message}"
        if self.cancelled:
            text += f" [cancelled: {self.cancelled}]"
        if self.failed_step is not None:
            text += f"; {self.failed_step.describe()}"
        if self.log_tail:
            text += "; last log lines:\n" + self.log_tail
        return redact(text)


class PipelineRunSession:
    """Creates and follows the PipelineRuns of one scenario entry (one per load instance)."""

    def __init__(
        self, client: TektonClient, settings: TektonSettings, labels: Mapping[str, str], emit: Emit | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.labels = dict(labels)
        self.selector = ",".join(f"{key}={value}" for key, value in sorted(self.labels.items()))
        self.emit: Emit = emit or _no_emit
        self._runs: dict[str, _Run] = {}
        self._cond = threading.Condition()
        self._stop_reason: str | None = None
        self._closed = False
        self._fatal: PerfTestsError | None = None
        self._follower: threading.Thread | None = None
        self._watch: Any = None
        self._polling = False

    # -- before the start ------------------------------------------------------------------------------
    def check_task(self, task: TaskLocation, params: Mapping[str, str] | None = None) -> None:
        """Raise TargetError when the cluster resolver cannot find the Task or it lacks a param we send."""
        found = self.client.get_task(task.name, task.namespace)
        if found is None:
            raise TargetError(
                f"Task {task.name!r} not found in namespace {task.namespace!r}, where the cluster resolver "
                "looks for it: deploy it with `kubectl apply -k deploy/tekton --server-side`, or set "
                "TEKTON_TASK_NAMESPACE / TEKTON_TASK_NAME to where it is"
            )
        declared = {str(p.get("name")) for p in (found.get("spec") or {}).get("params") or [] if isinstance(p, dict)}
        missing = sorted(set(params or {}) - declared)
        if missing:
            raise TargetError(
                f"Task {task.namespace}/{task.name} does not declare the params {', '.join(missing)} that "
                "the runner sends: it is older than this framework; re-apply deploy/tekton"
            )

    # -- running -----------------------------------------------------------------------------------------
    def create(self, body: dict[str, Any], instance: int | None = None) -> str:
        """Create one PipelineRun; its name."""
        start_wall, start = time.time(), time.perf_counter()
        attrs: dict[str, Any] = {"instance": instance} if instance is not None else {}
        try:
            created = self.client.create_pipelinerun(body)
        except PerfTestsError as exc:
            self.emit(
                "tekton_create",
                start_wall,
                time.perf_counter() - start,
                False,
                "create_failed",
                str(exc),
                attrs or None,
            )
            raise
        name = str((created.get("metadata") or {}).get("name", ""))
        self.emit("tekton_create", start_wall, time.perf_counter() - start, True, attrs={**attrs, "pipelinerun": name})
        logger.info("created PipelineRun %s/%s", self.client.namespace, name)
        with self._cond:
            self._runs[name] = _Run(name, instance, created)
            self._cond.notify_all()
        return name

    @property
    def names(self) -> list[str]:
        """Names of the PipelineRuns created so far."""
        with self._cond:
            return list(self._runs)

    def stop(self, reason: str = "stopped") -> None:
        """Ask ``wait`` to cancel the unfinished PipelineRuns now; thread-safe, returns at once."""
        with self._cond:
            if self._stop_reason is None:
                self._stop_reason = reason
            self._cond.notify_all()

    def progress(self) -> str:
        """``2 PipelineRuns: 1 Running, 1 Succeeded``."""
        with self._cond:
            states = [outcome(run.latest).reason or "Pending" for run in self._runs.values()]
        if not states:
            return "no PipelineRun yet"
        counts: dict[str, int] = {}
        for state in states:
            counts[state] = counts.get(state, 0) + 1
        parts = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
        return f"{len(states)} PipelineRun{'s' if len(states) != 1 else ''}: {parts}"

    def wait(self, deadline: float) -> None:
        """Follow the PipelineRuns until all are done; cancel at ``deadline`` (monotonic) or on ``stop``.

        Returns when every run is done, or ``TEKTON_CANCEL_GRACE`` seconds after cancelling.
        """
        self._start_follower()
        cancel_deadline: float | None = None
        while True:
            with self._cond:
                if self._all_done():
                    return
                if self._fatal is not None and self._stop_reason is None:
                    self._stop_reason = "error"
                reason = self._stop_reason
                now = time.monotonic()
                if reason is None and now >= deadline:
                    reason = self._stop_reason = "timeout"
                if cancel_deadline is not None and now >= cancel_deadline:
                    return
                if reason is None or cancel_deadline is not None:
                    wake = cancel_deadline if cancel_deadline is not None else deadline
                    self._cond.wait(timeout=max(0.0, wake - now))
                    continue
            self.cancel_unfinished(reason)
            cancel_deadline = time.monotonic() + self.settings.cancel_grace
            if self._fatal is not None:
                return

    @property
    def fatal(self) -> PerfTestsError | None:
        """An error that made following the PipelineRuns impossible (raise it after ``wait``)."""
        return self._fatal

    @property
    def stop_reason(self) -> str | None:
        """Why the runs were cancelled (``timeout``, ``stopped``, ``error``), None when they were not."""
        return self._stop_reason

    def cancel_unfinished(self, reason: str) -> None:
        """Cancel every PipelineRun that is not done yet (each once)."""
        with self._cond:
            pending = [run for run in self._runs.values() if not outcome(run.latest).done and not run.cancelled]
            for run in pending:
                run.cancelled = reason
        for run in pending:
            start_wall, start = time.time(), time.perf_counter()
            try:
                present = self.client.cancel_pipelinerun(run.name)
            except PerfTestsError as exc:
                self.emit(
                    "tekton_cancel",
                    start_wall,
                    time.perf_counter() - start,
                    False,
                    "cancel_failed",
                    str(exc),
                    {"pipelinerun": run.name},
                )
                logger.warning("cancelling PipelineRun %s failed: %s", run.name, exc)
                continue
            self.emit(
                "tekton_cancel",
                start_wall,
                time.perf_counter() - start,
                True,
                attrs={"pipelinerun": run.name, "reason": reason},
            )
            logger.info("cancelled PipelineRun %s/%s (%s)", self.client.namespace, run.name, reason)
            if not present:
                with self._cond:
                    run.latest = _gone(run.latest)
                    self._cond.notify_all()

    def _all_done(self) -> bool:
        return all(outcome(run.latest).done for run in self._runs.values())

    # -- following ---------------------------------------------------------------------------------------
    def _start_follower(self) -> None:
        if self._follower is None:
            self._follower = threading.Thread(target=self._follow, name="tekton-follow", daemon=True)
            self._follower.start()

    def _finished_following(self) -> bool:
        with self._cond:
            return self._closed or self._all_done() or self._fatal is not None

    def _follow(self) -> None:
        failures = 0
        while not self._finished_following():
            if self._polling:
                failures = self._poll_once(failures)
                continue
            try:
                watch = self.client.watch_pipelineruns(self.selector, self.settings.watch_timeout)
            except TargetError as exc:
                self._switch_to_polling(exc)
                continue
            with self._cond:
                self._watch = watch
                closed = self._closed
            if closed:
                watch.close()
                return
            try:
                for event in watch:
                    self._update(event.object, deleted=event.type == "DELETED")
                    if self._finished_following():
                        break
                failures = 0
            except WatchExpired:
                continue
            except TargetError as exc:
                failures += 1
                if failures >= 3:
                    self._switch_to_polling(exc)
            finally:
                watch.close()
                with self._cond:
                    self._watch = None

    def _switch_to_polling(self, exc: Exception) -> None:
        logger.info(
            "cannot watch PipelineRuns (%s); reading them every %gs instead",
            redact(str(exc)),
            self.settings.poll_interval,
        )
        self._polling = True

    def _poll_once(self, failures: int) -> int:
        """Read each unfinished run once, then wait the (backed-off) poll interval; the failure count."""
        with self._cond:
            pending = [run.name for run in self._runs.values() if not outcome(run.latest).done]
        try:
            for name in pending:
                current = self.client.get_pipelinerun(name)
                self._update(current if current is not None else None, name=name)
            failures = 0
        except TargetError as exc:
            failures += 1
            if "forbidden" in str(exc) or failures >= 10:
                with self._cond:
                    self._fatal = TargetError(f"cannot follow the PipelineRuns: {exc}")
                    self._cond.notify_all()
                return failures
            logger.warning("reading PipelineRuns failed (%s); trying again", exc)
        interval = min(self.settings.poll_interval * (2**failures), _MAX_POLL_BACKOFF)
        with self._cond:
            self._cond.wait_for(lambda: self._closed, timeout=interval)
        return failures

    def _update(self, obj: dict[str, Any] | None, deleted: bool = False, name: str = "") -> None:
        name = name or str(((obj or {}).get("metadata") or {}).get("name", ""))
        with self._cond:
            run = self._runs.get(name)
            if run is None:
                return
            if obj is None or deleted:
                run.latest = _gone(obj or run.latest)
            else:
                run.latest = obj
            self._cond.notify_all()

    # -- after -------------------------------------------------------------------------------------------
    def collect(self) -> list[FinishedPipelineRun]:
        """SucceededCondition, timings, report and failure details of every PipelineRun, in creation order."""
        with self._cond:
            runs = list(self._runs.values())
        results = []
        for run in runs:
            result = self._collect(run)
            results.append(result)
            attrs: dict[str, Any] = {"pipelinerun": run.name, "reason": result.outcome.reason}
            if run.instance is not None:
                attrs["instance"] = run.instance
            if result.created is not None and result.queue_delay is not None:
                self.emit("tekton_queue", result.created, result.queue_delay, True, attrs=attrs)
            begin = result.started if result.started is not None else result.created
            self.emit(
                "tekton_run",
                begin or time.time(),
                result.duration or 0.0,
                result.ok,
                None if result.ok else (result.outcome.reason or "unfinished"),
                None if result.ok else result.problem().split("\n", 1)[0],
                attrs,
            )
        return results

    def _collect(self, run: _Run) -> FinishedPipelineRun:
        latest = run.latest
        metadata = latest.get("metadata") or {}
        status = latest.get("status") or {}
        result = FinishedPipelineRun(
            name=run.name,
            instance=run.instance,
            outcome=outcome(latest),
            results=pipelinerun_results(latest),
            created=parse_time(metadata.get("creationTimestamp")),
            completed=parse_time(status.get("completionTime")),
            cancelled=run.cancelled,
        )
        try:
            pods = self.client.list_pods(f"tekton.dev/pipelineRun={run.name}")
        except PerfTestsError as exc:
            logger.warning("cannot list the pods of PipelineRun %s: %s", run.name, exc)
            return result
        pods.sort(key=lambda pod: parse_time((pod.get("metadata") or {}).get("creationTimestamp")) or 0.0)
        starts = [t for t in (parse_time((pod.get("status") or {}).get("startTime")) for pod in pods) if t]
        if starts:
            result.started = min(starts)
            if result.created is not None:
                result.queue_delay = max(0.0, result.started - result.created)
        for pod in pods:
            if result.report is None and result.outcome.succeeded:
                result.report = self._report(pod)
            if result.failed_step is None and not result.outcome.succeeded:
                result.failed_step = failed_step(pod)
        if result.failed_step is not None and result.failed_step.exit_code is not None and self.settings.log_tail_lines:
            try:
                tail = self.client.read_log(
                    result.failed_step.pod, result.failed_step.container, tail_lines=self.settings.log_tail_lines
                )
            except PerfTestsError as exc:
                tail = f"(log not readable: {exc})"
            result.log_tail = redact(tail.rstrip())
        return result

    def _report(self, pod: Mapping[str, Any]) -> tuple[str, bytes] | None:
        """The report block of the pod's log; the last step first (where the shipped Task prints it)."""
        name = str((pod.get("metadata") or {}).get("name", ""))
        for container in reversed(step_containers(pod)):
            try:
                report = extract_report(self.client.read_log(name, container))
            except PerfTestsError as exc:
                logger.warning("cannot read the log of %s/%s: %s", name, container, exc)
                continue
            if report is not None:
                return report
        return None

    def cleanup(self, keep: bool = False) -> None:
        """Stop following; delete every PipelineRun unless ``keep`` (their pods and claims go with them)."""
        with self._cond:
            self._closed = True
            watch = self._watch
            self._cond.notify_all()
            runs = list(self._runs.values())
        if watch is not None:
            watch.close()
        if self._follower is not None:
            self._follower.join(timeout=self.settings.request_timeout)
        if keep:
            for run in runs:
                logger.info("keeping PipelineRun %s/%s", self.client.namespace, run.name)
            return
        errors = []
        for run in runs:
            start_wall, start = time.time(), time.perf_counter()
            try:
                self.client.delete_pipelinerun(run.name)
            except PerfTestsError as exc:
                self.emit(
                    "tekton_delete",
                    start_wall,
                    time.perf_counter() - start,
                    False,
                    "delete_failed",
                    str(exc),
                    {"pipelinerun": run.name},
                )
                errors.append(f"{run.name}: {exc}")
                continue
            self.emit("tekton_delete", start_wall, time.perf_counter() - start, True, attrs={"pipelinerun": run.name})
        if errors:
            raise TargetError(
                "could not delete PipelineRuns (delete them with `kubectl delete pipelinerun -l "
                f"{self.selector} -n {self.client.namespace}`): " + "; ".join(errors)
            )


def _gone(latest: Mapping[str, Any]) -> dict[str, Any]:
    """``latest`` marked as finished because the PipelineRun no longer exists."""
    gone = dict(latest)
    status = dict(gone.get("status") or {})
    status["conditions"] = [
        {
            "type": "Succeeded",
            "status": "False",
            "reason": "Deleted",
            "message": "the PipelineRun was deleted before it finished",
        }
    ]
    gone["status"] = status
    return gone
