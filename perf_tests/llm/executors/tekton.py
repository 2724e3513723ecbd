"""The Tekton executor of ``LLM_LOAD``: GuideLLM runs in the cluster as PipelineRuns of the shared Task.

Selected with ``"executor": "tekton"``. Each planned GuideLLM process (``plan_launches``: one for a
plain entry, one per layer of a ``stages`` stair-step) becomes one PipelineRun of the
``guidellm-load-generator`` Task (``deploy/tekton``), created at the entry's start time with the layer's
start offset as the Task's ``start-delay``. The Task params come from the very ``GuidellmCommand`` the
local executor runs (``perf_tests.llm.command.build_command``): ``task_params`` reads its structured
options, and the Task's script renders them back into the same ``guidellm run`` arguments (a test runs
the script and compares). The reports come back through the pod log and go to the same parser, summary,
thresholds and universal report as the local executor's.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perf_tests.errors import ConfigurationError, RunnerError
from perf_tests.llm.command import GuidellmCommand, build_command
from perf_tests.llm.options import HUB_TOKENIZER_PREFIX, LlmLoadFields
from perf_tests.llm.plan import Launch, plan_launches
from perf_tests.tekton.load import LoadInstance, TektonLoad, raise_for_results
from perf_tests.tekton.options import load_template
from perf_tests.tekton.session import Emit, RunResult
from perf_tests.tekton.settings import TektonSettings, load_tekton_settings

__all__ = ["RESULTS_MOUNT", "TektonExecutor", "check_entry", "command_for", "task_params"]

logger = logging.getLogger(__name__)

RESULTS_MOUNT = "/workspace/results"
"""Where the Task mounts its ``results`` workspace; the report is ``<output-basename>.json`` there."""


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
    """The Task's params (all strings) that make its script run exactly ``command``'s arguments."""
    options: Mapping[str, Any] = command.options
    backend = dict(options["--backend"])
    backend.pop("kind", None)
    params: dict[str, str] = {"target-url": str(backend.pop("target"))}
    model = backend.pop("model", None)
    if model is not None:
        params["model"] = str(model)
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


class TektonExecutor:
    """Runs an ``LLM_LOAD`` entry's GuideLLM processes as PipelineRuns; gives back their report files.

    Lifecycle (called by the LLM_LOAD runner in its own phases): ``prepare()`` before the start time
    (check the entry, connect, check the Task), ``run()`` at the start time (create, follow, collect;
    returns one report file per process), ``stop()`` from another thread (cancel), ``cleanup()`` always.
    """

    name = "tekton"

    def __init__(
        self,
        entry: LlmLoadFields,
        *,
        run_id: str,
        output_dir: Path,
        emit: Emit | None = None,
        settings: TektonSettings | None = None,
    ) -> None:
        self.entry = entry
        self.output_dir = output_dir
        self.settings = settings or load_tekton_settings()
        self.launches: list[Launch] = plan_launches(entry)
        template_path = getattr(entry, "pipeline_run_template_path", None)
        keep = getattr(entry, "keep_pipeline_runs", None)
        self.load = TektonLoad(
            self.settings,
            run_id=run_id,
            scenario=entry.name,
            run_time=entry.run_time,
            emit=emit,
            template=load_template(template_path) if template_path is not None else None,
            keep=keep,
        )
        self.commands: list[GuidellmCommand] = []
        self.instances: list[LoadInstance] = []
        self.results: list[RunResult] = []

    @property
    def overrun(self) -> float:
        """Seconds the PipelineRuns may take beyond the entry's runTime (queueing, image pulls, report)."""
        return self.load.timeout([]) - self.entry.run_time

    def prepare(self) -> None:
        """Check what must hold in the cluster, build each process's Task params, connect, check the Task."""
        check_entry(self.entry)
        self.commands = [command_for(self.entry, launch) for launch in self.launches]
        several = len(self.launches) > 1
        self.instances = [
            LoadInstance(task_params(self.entry, launch, command), launch.index if several else None)
            for launch, command in zip(self.launches, self.commands, strict=True)
        ]
        for launch, command in zip(self.launches, self.commands, strict=True):
            logger.info(
                "%s: %s in the cluster from +%gs: %s", self.entry.name, launch.label, launch.start, command.shell()
            )
        self.load.prepare(self.instances[0].params if self.instances else None)

    def run(self) -> list[Path]:
        """Create the PipelineRuns, follow them, write each report to ``output_dir``; the report files.

        Raises RunnerError (TargetError for a missing Task) naming each PipelineRun that did not succeed,
        after writing the reports of those that did.
        """
        self.results = self.load.run(self.instances)
        paths = self.write_reports(self.results)
        raise_for_results(self.results, self.load.stop_reason)
        missing = [result.name for result in self.results if result.report is None]
        if missing:
            raise RunnerError(
                f"PipelineRun(s) {', '.join(missing)} succeeded but printed no report between the markers; "
                "is the Task the one of deploy/tekton (its `report` step prints it)?"
            )
        return paths

    def write_reports(self, results: Sequence[RunResult]) -> list[Path]:
        """Write each run's report as ``<label>.json`` (and the PipelineRun's name beside it)."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        by_instance = {launch.index if len(self.launches) > 1 else None: launch for launch in self.launches}
        paths = []
        for result in results:
            if result.report is None:
                continue
            launch = by_instance.get(result.instance, self.launches[0])
            path = self.output_dir / f"{launch.label}.json"
            path.write_bytes(result.report[1])
            (self.output_dir / f"{launch.label}.pipelinerun.txt").write_text(
                f"{self.load.settings.namespace}/{result.name}\n", encoding="utf-8"
            )
            paths.append(path)
        return paths

    def stop(self) -> None:
        """Cancel the unfinished PipelineRuns now; thread-safe, returns at once."""
        self.load.stop("stopped")

    def progress(self) -> str:
        """What the PipelineRuns are doing."""
        return self.load.progress()

    def cleanup(self) -> None:
        """Delete the PipelineRuns unless kept; close the connection."""
        self.load.cleanup()
