"""One scenario entry's load, run in the cluster: a PipelineRun per load instance, from start to cleanup.

``TektonLoad`` knows nothing of GuideLLM's options: it takes each instance's Task params (strings, the
names ``deploy/tekton/task-load-generator.yaml`` declares) and gives back each instance's report bytes.
Its phases follow the runner lifecycle:

1. ``prepare()``: connect (kubeconfig or in-cluster), and check that the cluster resolver will find the
   Task and that the Task declares every param sent (not with a ``pipelineRunTemplate``).
2. ``run(instances)``: at the entry's start time, create the entry's Secret when an instance has secret
   values (an API key, header values: never PipelineRun params, which anyone who may read PipelineRuns
   can read), then one PipelineRun per instance (the inline
   pipeline, or the user's template with the params substituted); follow them until each
   ``Succeeded`` condition is True or False; cancel them at the deadline (runTime + the largest
   ``start-delay`` + ``TEKTON_TIMEOUT_MARGIN``) or on ``stop()``; collect reports and failures.
3. ``stop()``: thread-safe; the unfinished PipelineRuns are cancelled at once.
4. ``cleanup()``: delete the PipelineRuns unless ``keepPipelineRuns`` / ``TEKTON_KEEP_PIPELINERUNS``, and
   always the Secret (also after a failure or Ctrl-C; it carries the PipelineRuns' labels, so
   ``kubectl delete secret -l ...`` finds one a killed run left).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perf_tests.errors import ConfigurationError, PerfTestsError, RunnerError, TargetError
from perf_tests.tekton.client import TektonClient
from perf_tests.tekton.pipelinerun import (
    CREDENTIALS_PARAM,
    TaskLocation,
    Workspace,
    apply_template,
    build_pipelinerun,
    build_secret,
    declared_params,
    run_labels,
)
from perf_tests.tekton.session import Emit, FinishedPipelineRun, PipelineRunSession
from perf_tests.tekton.settings import TektonSettings

__all__ = ["LoadInstance", "TektonLoad"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadInstance:
    """One copy of the load: the Task's params (string values) and, for a stair-step, its index.

    ``secrets`` are the values the Task reads from the entry's Secret (by key, e.g. ``backend-options``
    with the API key in it); they never become params.
    """

    params: Mapping[str, str]
    instance: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

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
        self._secret_name = ""
        self._cleaned = False

    # -- lifecycle -----------------------------------------------------------------------------------------
    def prepare(self, params: Mapping[str, str] | None = None, *, with_secrets: bool = False) -> None:
        """Connect and check the Task (raises TargetError with what to do).

        ``with_secrets``: the instances carry secret values, so the Task (or the template) must declare the
        ``credentials-secret`` param that names the Secret they are read from.
        """
        if with_secrets and self.template is not None and CREDENTIALS_PARAM not in declared_params(self.template):
            raise ConfigurationError(
                f"{self.scenario}: the entry has secret values (an api_key in backendOptions, headers), which "
                f"reach the Task only through a Secret: the pipelineRunTemplate must declare the param "
                f"{CREDENTIALS_PARAM!r} and pass it to the guidellm-load-generator Task"
            )
        if with_secrets:
            params = {**(params or {}), CREDENTIALS_PARAM: ""}
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
            given = {**item.params, CREDENTIALS_PARAM: self._secret_name} if item.secrets else item.params
            return apply_template(self.template, given, labels=labels, timeout=timeout, scenario=self.scenario)
        workspace = Workspace(self.settings.workspace, self.settings.storage_class, self.settings.storage_size)
        params = dict(item.params)
        if item.secrets:
            params[CREDENTIALS_PARAM] = self._secret_name
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
            self._create_secret(instances)
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

    def _create_secret(self, instances: Sequence[LoadInstance]) -> None:
        """Create the entry's Secret from the instances' secret values (the same for every instance)."""
        data = next((item.secrets for item in instances if item.secrets), None)
        if not data or self._stopped is not None:
            return
        if any(item.secrets and item.secrets != data for item in instances):
            raise RunnerError(f"{self.scenario}: the load instances carry different secret values")
        client = self._require_client()
        name = client.create_secret(build_secret(data, labels=self.labels, scenario=self.scenario))
        with self._lock:
            self._secret_name = name
            cleaned = self._cleaned
        logger.info("created Secret %s/%s with the entry's secret values", client.namespace, name)
        if cleaned:  # cleanup ran while the Secret was being created: it must not outlive the run
            self._delete_secret()

    def _delete_secret(self) -> None:
        with self._lock:
            name, self._secret_name = self._secret_name, ""
        if not name or self._client is None:
            return
        try:
            self._client.delete_secret(name)
        except PerfTestsError as exc:
            raise TargetError(
                f"could not delete Secret {name} (delete it with `kubectl delete secret {name} -n "
                f"{self._client.namespace}`): {exc}"
            ) from None
        logger.info("deleted Secret %s/%s", self._client.namespace, name)

    def cleanup(self) -> None:
        """Delete the PipelineRuns (unless kept) and the Secret (always), then close the connection."""
        session, client = self._session, self._client
        with self._lock:
            self._cleaned = True
        try:
            if session is not None:
                session.cleanup(keep=self.keep)
        finally:
            try:
                self._delete_secret()
            finally:
                if client is not None:
                    client.close()

    def _require_client(self) -> TektonClient:
        if self._client is None:
            raise RunnerError("TektonLoad.run() was called before prepare()")
        return self._client

    def _require_session(self) -> PipelineRunSession:
        if self._session is None:
            raise RunnerError("TektonLoad.run() was called before prepare()")
        return self._session
