"""One scenario entry's load, run in the cluster: a PipelineRun per load instance, from start to cleanup.

``TektonLoad`` knows nothing of GuideLLM's options: it takes each instance's Task params (strings, the
names ``deploy/tekton/task-load-generator.yaml`` declares) and gives back each instance's report bytes.
Its phases follow the runner lifecycle:

1. ``prepare()``: connect (kubeconfig or in-cluster), and check that the cluster resolver will find the
   Task and that the Task declares every param sent (not with a ``pipelineRunTemplate``).
2. ``run(instances)``: at the entry's start time, create one PipelineRun per instance (the inline
   pipeline, or the user's template with the params substituted); follow them until each
   ``Succeeded`` condition is True or False; cancel them at the deadline (runTime + the largest
   ``start-delay`` + ``TEKTON_TIMEOUT_MARGIN``) or on ``stop()``; collect reports and failures.
3. ``stop()``: thread-safe; the unfinished PipelineRuns are cancelled at once.
4. ``cleanup()``: delete the PipelineRuns unless ``keepPipelineRuns`` / ``TEKTON_KEEP_PIPELINERUNS``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perf_tests.errors import RunnerError
from perf_tests.tekton.client import TektonClient
from perf_tests.tekton.pipelinerun import TaskLocation, Workspace, apply_template, build_pipelinerun, run_labels
from perf_tests.tekton.session import Emit, FinishedPipelineRun, PipelineRunSession
from perf_tests.tekton.settings import TektonSettings

__all__ = ["LoadInstance", "TektonLoad"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadInstance:
    """One copy of the load: the Task's params (string values) and, for a stair-step, its index."""

    params: Mapping[str, str]
    instance: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def start_delay(self) -> float:
        try:
            return max(0.0, float(self.params.get("start-delay") or 0))
        except ValueError:
            return 0.0


class TektonLoad:
    """Runs an entry's load instances as PipelineRuns of the shared load generator Task."""

    def __init__(
        self,
        settings: TektonSettings,
        *,
        run_id: str,
        scenario: str,
        run_time: float,
        emit: Emit | None = None,
        template: Mapping[str, Any] | None = None,
        keep: bool | None = None,
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.scenario = scenario
        self.run_time = run_time
        self.emit = emit
        self.template = template
        self.keep = settings.keep_pipelineruns if keep is None else keep
        self.task = TaskLocation(settings.task_name, settings.task_namespace)
        self.labels = run_labels(run_id, scenario)
        self._client: TektonClient | None = None
        self._session: PipelineRunSession | None = None
        self._lock = threading.Lock()
        self._stopped: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def prepare(self, params: Mapping[str, str] | None = None) -> None:
        """Connect and check the Task (raises TargetError with what to do)."""
        client = TektonClient.connect(self.settings)
        session = PipelineRunSession(client, self.settings, self.labels, self.emit)
        with self._lock:
            self._client, self._session = client, session
            stopped = self._stopped
        if stopped is not None:
            session.stop(stopped)
        logger.info(
            "Tekton: %s, PipelineRuns in namespace %s, Task %s/%s via the cluster resolver",
            client.where,
            client.namespace,
            self.task.namespace,
            self.task.name,
        )
        if self.template is None:
            session.check_task(self.task, params)

    def timeout(self, instances: Sequence[LoadInstance]) -> float:
        """Seconds each PipelineRun may take: runTime, the largest start delay, and the margin."""
        delay = max((item.start_delay for item in instances), default=0.0)
        return self.run_time + delay + self.settings.timeout_margin

    def body(self, item: LoadInstance, timeout: float) -> dict[str, Any]:
        """The PipelineRun of one instance."""
        labels = {**run_labels(self.run_id, self.scenario, item.instance), **item.labels}
        if self.template is not None:
            return apply_template(self.template, item.params, labels=labels, timeout=timeout, scenario=self.scenario)
        workspace = Workspace(self.settings.workspace, self.settings.storage_class, self.settings.storage_size)
        params = dict(item.params)
        if self.settings.image and "image" not in params:
            params["image"] = self.settings.image
        return build_pipelinerun(
            params,
            task=self.task,
            labels=labels,
            timeout=timeout,
            workspace=workspace,
            service_account=self.settings.service_account,
            scenario=self.scenario,
        )

    def run(self, instances: Sequence[LoadInstance]) -> list[FinishedPipelineRun]:
        """Create, follow and collect one PipelineRun per instance; the results in instance order.

        Raises the error that made following impossible; a run that failed is in the results (``ok`` False,
        ``problem()`` says why) so the caller can still use the others' reports.
        """
        session = self._require_session()
        timeout = self.timeout(instances)
        deadline = time.monotonic() + timeout
        try:
            for item in instances:
                if self._stopped is not None:
                    break
                session.create(self.body(item, timeout), item.instance)
        except BaseException:
            session.stop("error")  # cancel what was created before the failure
            session.wait(deadline)
            raise
        session.wait(deadline)
        results = session.collect()
        if session.fatal is not None:
            raise session.fatal
        return results

    def stop(self, reason: str = "stopped") -> None:
        """Cancel the unfinished PipelineRuns now; thread-safe, returns at once."""
        with self._lock:
            if self._stopped is None:
                self._stopped = reason
            session = self._session
        if session is not None:
            session.stop(reason)

    @property
    def stop_reason(self) -> str | None:
        """Why the PipelineRuns were cancelled (``timeout``, ``stopped``, ``error``); None when they were not."""
        session = self._session
        return session.stop_reason if session is not None else self._stopped

    def progress(self) -> str:
        """What the PipelineRuns are doing, for the progress line."""
        session = self._session
        return session.progress() if session is not None else "connecting"

    def cleanup(self) -> None:
        """Delete the PipelineRuns (unless kept) and close the connection."""
        session, client = self._session, self._client
        try:
            if session is not None:
                session.cleanup(keep=self.keep)
        finally:
            if client is not None:
                client.close()

    def _require_session(self) -> PipelineRunSession:
        if self._session is None:
            raise RunnerError("TektonLoad.run() was called before prepare()")
        return self._session
