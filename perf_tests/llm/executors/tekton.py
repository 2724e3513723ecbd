"""The Tekton executor of ``LLM_LOAD``: GuideLLM runs in the cluster as PipelineRuns of the shared Task.

Selected with ``"executor": "tekton"``. Each planned GuideLLM process (``plan_launches``: one for a
plain entry, one per layer of a ``stages`` stair-step) becomes one PipelineRun of the
``guidellm-load-generator`` Task (``deploy/tekton``), created at the entry's start time with the layer's
start offset as the Task's ``start-delay``. The Task params come from the very ``GuidellmCommand`` the
local executor runs (``perf_tests.llm.command.build_command``): ``task_params`` reads its structured
options, and the Task's script renders them back into the same ``guidellm run`` arguments (a test runs
the script and compares). Secret values (an ``api_key`` in ``backendOptions``, header values) are no
params: ``task_secrets`` gives them to the entry's Kubernetes Secret, which the Task reads through
``env.valueFrom.secretKeyRef`` (a PipelineRun's params are readable by anyone who may read
PipelineRuns). The reports come back through the pod log and go to the same parser, summary,
thresholds and universal report as the local executor's.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import SecretStr

from perf_tests.errors import ConfigurationError, RunnerError
from perf_tests.llm.command import GuidellmCommand, build_command, reveal
from perf_tests.llm.executors.executor import Executor, LaunchSpec, ProcessExit
from perf_tests.llm.executors.registry import EXECUTORS
from perf_tests.llm.executors.tekton_options import TektonExecutorOptions, load_template
from perf_tests.llm.options import HUB_TOKENIZER_PREFIX, LlmLoadFields
from perf_tests.llm.plan import Launch
from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.stop import StopToken
from perf_tests.tekton.load import LoadInstance, TektonLoad
from perf_tests.tekton.pipelinerun import parse_time
from perf_tests.tekton.session import Emit, FinishedPipelineRun
from perf_tests.tekton.settings import TektonSettings, load_tekton_settings

__all__ = [
    "RESULTS_MOUNT",
    "SECRET_BACKEND_OPTIONS",
    "TektonExecutor",
    "check_entry",
    "command_for",
    "task_params",
    "task_secrets",
]

logger = logging.getLogger(__name__)

RESULTS_MOUNT = "/workspace/results"
"""Where the Task mounts its ``results`` workspace; the report is ``<output-basename>.json`` there."""
SECRET_BACKEND_OPTIONS = "backend-options"
"""The Secret's key with the whole of ``backend-options``, secrets included; the Task prefers it to the param."""


def _holds_secret(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return True
    if isinstance(value, Mapping):
        return any(_holds_secret(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_secret(item) for item in value)
    return False


def _backend_options(command: GuidellmCommand, *, secrets: bool) -> dict[str, Any]:
    """``--backend`` without the keys the Task param sets (kind, target, model); without any key holding a
    secret unless ``secrets``."""
    backend = {key: value for key, value in dict(command.options["--backend"]).items()
               if key not in ("kind", "target", "model") and (secrets or not _holds_secret(value))}  # fmt: skip
    return dict(reveal(backend))


def task_secrets(command: GuidellmCommand) -> dict[str, str]:
    """The values for the entry's Secret (empty when it has no secret): the complete ``backend-options``."""
    if not _holds_secret(command.options["--backend"]):
        return {}
    return {SECRET_BACKEND_OPTIONS: json.dumps(_backend_options(command, secrets=True), separators=(",", ":"))}


def check_entry(entry: LlmLoadFields) -> None:
    """Raise ConfigurationError for what cannot run in the cluster (laptop-only files, the local mock)."""
    if entry.target_url is None:
        raise ConfigurationError(
            f"{entry.name}: the tekton executor needs targetUrl, the model's address as seen from a pod in the "
            "cluster (e.g. http://my-model.my-namespace.svc.cluster.local:8000); the embedded mock target "
            "exists only for the local executor"
        )
    if entry.data_file is not None:
        raise ConfigurationError(
            f"{entry.name}: dataFile {entry.data_file!r} is a file on this machine, which a TaskRun pod cannot "
            "read; use synthetic data (promptTokens/outputTokens) or a pipelineRunTemplate whose Task provides "
            "the data"
        )
    if entry.tokenizer is not None and not entry.tokenizer.startswith(HUB_TOKENIZER_PREFIX):
        raise ConfigurationError(
            f"{entry.name}: tokenizer {entry.tokenizer!r} is a folder on this machine, which a TaskRun pod cannot "
            f"read; give a hub id ('{HUB_TOKENIZER_PREFIX}org/name') or leave it out (GuideLLM then loads the "
            "model's tokenizer from the hub inside the cluster)"
        )


def command_for(entry: LlmLoadFields, launch: Launch) -> GuidellmCommand:
    """The ``guidellm run`` the TaskRun pod runs for ``launch`` (paths as the pod sees them)."""
    assert entry.target_url is not None
    return build_command(
        entry,
        launch,
        target_url=entry.target_url,
        tokenizer=entry.tokenizer,
        output_path=f"{RESULTS_MOUNT}/{launch.label}.json",
    )


def task_params(entry: LlmLoadFields, launch: Launch, command: GuidellmCommand) -> dict[str, str]:
    """The Task's params (all strings) that make its script run exactly ``command``'s arguments, together
    with ``task_secrets`` (never a secret value: those go to the Secret)."""
    options: Mapping[str, Any] = command.options
    params: dict[str, str] = {"target-url": str(options["--backend"]["target"])}
    model = options["--backend"].get("model")
    if model is not None:
        params["model"] = str(model)
    backend = _backend_options(command, secrets=False)
    if backend:
        params["backend-options"] = json.dumps(backend, separators=(",", ":"))
    tokenizer = options.get("--tokenizer")
    if tokenizer is not None:
        params["tokenizer"] = str(tokenizer["model"])
    [data] = options["--data"]
    if data.get("kind") != "synthetic_text":
        raise ConfigurationError(f"{entry.name}: the tekton executor sends synthetic data only, not {data['kind']}")
    params["prompt-tokens"] = str(data["prompt_tokens"])
    params["output-tokens"] = str(data["output_tokens"])
    profile = dict(options["--profile"])
    params["rate-type"] = str(profile.pop("kind"))
    for key in ("rate", "streams", "sweep_size"):
        if profile.get(key) is not None:
            params["rate"] = str(profile[key])
    if profile.get("max_concurrency") is not None:
        params["max-concurrency"] = str(profile["max_concurrency"])
    for constraint in options.get("--constraint", []):
        if constraint["kind"] == "max_duration":
            params["max-seconds"] = str(constraint["seconds"])
        elif constraint["kind"] == "max_requests":
            params["max-requests"] = str(constraint["count"])
    seed = options.get("--seed")
    if seed is not None:
        params["random-seed"] = str(seed["value"])
    if entry.workers is not None:
        params["workers"] = str(entry.workers)
    if entry.extra_args:
        params["extra-args"] = shlex.join(entry.extra_args)
    params["output-basename"] = launch.label
    params["start-delay"] = f"{launch.start:g}"
    return params


@EXECUTORS.include
class TektonExecutor(Executor):
    """Runs each ``LaunchSpec`` as a PipelineRun of the shared Task (see the module docstring).

    Lifecycle (``Executor``'s): ``bind`` gives it the entry and the runner (names, labels, events);
    ``prepare`` checks the entry, connects and checks the Task, before the start time; ``run``, at the
    entry's start, creates one PipelineRun per process (its layer's offset as ``start-delay``), follows
    them until they end and writes each report to the spec's ``report_path`` for the runner's parser;
    ``stop`` cancels them (the runner only stops it ``end_extension`` seconds after the entry's end, or on
    abort); ``cleanup`` deletes them unless kept.
    """

    name = "tekton"
    options_model = TektonExecutorOptions

    def __init__(self, clock: Clock, *, entry_start_offset: float, entry_end_offset: float, startup_lead: float,
                 abort: StopToken | None = None, stopping: StopToken | None = None,
                 settings: TektonSettings | None = None) -> None:  # fmt: skip
        super().__init__(clock, entry_start_offset=entry_start_offset, entry_end_offset=entry_end_offset,
                         startup_lead=startup_lead, abort=abort, stopping=stopping)  # fmt: skip
        self.settings = settings
        self.entry: LlmLoadFields | None = None
        self.run_id = "run"
        self.emit: Emit | None = None
        self.load: TektonLoad | None = None
        self.specs: list[LaunchSpec] = []
        self.instances: list[LoadInstance] = []
        self._settings_error: ConfigurationError | None = None
        self.stopping.add_callback(self._cancel_load)  # a stop cancels the PipelineRuns at once

    def bind(self, entry: LlmLoadFields, run_id: str, emit: Emit | None = None) -> None:
        """The entry it runs, the test run's id (labels) and where to report Tekton operations.

        Reads the Tekton settings now (``end_extension`` needs them); an invalid one is raised by
        ``prepare``.
        """
        self.entry, self.run_id, self.emit = entry, run_id, emit
        if self.settings is None:
            try:
                self.settings = load_tekton_settings()
            except ConfigurationError as exc:
                self._settings_error = exc

    @property
    def end_extension(self) -> float:
        """Seconds past the entry's end before the runner is stopped: queueing, image pulls and the report
        step may push a PipelineRun's end past the entry's; at that point it is cancelled."""
        return self.settings.timeout_margin if self.settings is not None else 0.0

    def prepare(self, specs: Sequence[LaunchSpec]) -> None:
        if self.entry is None:
            raise RunnerError("the tekton executor needs bind(entry, ...) before prepare()")
        entry = self.entry
        check_entry(entry)
        if self._settings_error is not None:
            raise self._settings_error
        self.settings = self.settings or load_tekton_settings()
        self.specs = list(specs)
        several = len(self.specs) > 1
        self.instances = [
            LoadInstance(
                task_params(entry, spec.launch, spec.command),
                spec.launch.index if several else None,
                secrets=task_secrets(spec.command),
            )
            for spec in self.specs
        ]
        options = entry.executor_options_as(TektonExecutorOptions)
        template_path = options.pipeline_run_template_path
        self.load = TektonLoad(
            self.settings, run_id=self.run_id, scenario=entry.name, run_time=entry.run_time, emit=self.emit,
            template=load_template(template_path) if template_path is not None else None,
            keep=options.keep_pipeline_runs, clock=self.clock,
        )  # fmt: skip
        if self.stopping.is_set():  # stopped before the load existed, so the stop could not reach it
            self.load.stop(self._stop_reason())
        self.load.prepare(self.instances[0].params if self.instances else None,
                          with_secrets=any(item.secrets for item in self.instances))  # fmt: skip

    def run(self) -> list[ProcessExit]:
        load = self.load
        if load is None:
            raise RunnerError("the tekton executor's run() was called before prepare()")
        if self.stopping.is_set():
            load.stop(self._stop_reason())
        launched = self.clock.wall_now()
        results = load.run(self.instances)
        return [self._outcome(spec, result, launched) for spec, result in zip(self.specs, results, strict=False)]

    def _stop_reason(self) -> str:
        # Before the entry's end it is an abort (Ctrl-C); after it, the runner's end_extension ran out.
        return "stopped" if self.early_stop else "timeout"

    def _outcome(self, spec: LaunchSpec, result: FinishedPipelineRun, launched: float) -> ProcessExit:
        outcome = ProcessExit(spec, launched_at=result.created or launched, ended_at=result.completed,
                                stopped=bool(result.cancelled))  # fmt: skip
        # The Task's start-time/end-time results (RFC 3339): the copy's own window, for Prometheus queries.
        began, finished = parse_time(result.results.get("start-time")), parse_time(result.results.get("end-time"))
        if began is not None and finished is not None and finished >= began:  # whole seconds: may be equal
            outcome.load_window = (began, finished)
        lines = [f"PipelineRun {self.load.settings.namespace if self.load else ''}/{result.name}: "
                 f"{result.outcome.reason or 'Pending'}"]  # fmt: skip
        if result.queue_delay is not None:
            lines.append(f"queueing delay (creation to TaskRun pod start): {result.queue_delay:g}s")
        if result.ok and result.report is not None:
            spec.report_path.parent.mkdir(parents=True, exist_ok=True)
            spec.report_path.write_bytes(result.report[1])
            outcome.exit_code = 0
        elif result.ok:
            outcome.exit_code = 0
            outcome.error = (f"PipelineRun {result.name} succeeded but printed no report between the markers; is "
                             "the Task the one of deploy/tekton (its `report` step prints it)?")  # fmt: skip
        else:
            outcome.exit_code = result.failed_step.exit_code if result.failed_step is not None else None
            outcome.error = result.problem()
            if result.outcome.reason == "CouldntGetTask":
                outcome.error += (" - deploy it with `kubectl apply -k deploy/tekton --server-side` or set "
                                  "TEKTON_TASK_NAMESPACE / TEKTON_TASK_NAME")  # fmt: skip
            if self.load is not None and self.load.stop_reason == "timeout":
                outcome.error = "the load did not finish in time and was cancelled: " + outcome.error
        if outcome.error:
            lines.append(outcome.error)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        spec.log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return outcome

    def _cancel_load(self) -> None:
        load = self.load
        if load is not None:
            load.stop(self._stop_reason())

    def progress(self) -> str:
        return self.load.progress() if self.load is not None else "connecting"

    def cleanup(self) -> None:
        if self.load is not None:
            self.load.cleanup()
