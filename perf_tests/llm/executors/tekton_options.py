"""The Tekton executor's entry fields (its options model), flat in an ``LLM_LOAD`` entry with ``"executor": "tekton"``.

``pipelineRunTemplate``
    A ``tekton.dev/v1`` PipelineRun YAML file used instead of the built-in inline pipeline. Each param it
    declares (in ``spec.params`` or ``spec.pipelineSpec.params``) gets the entry's value for the Task
    param of the same name (``target-url``, ``model``, ``rate``...); perf-tests labels are added and a
    fixed ``metadata.name`` becomes a ``generateName``. Looked up beside the scenario file and in
    ``test_data/tekton/``.
``keepPipelineRuns``
    Keep the PipelineRuns (and their pods' logs) after the run; default ``TEKTON_KEEP_PIPELINERUNS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from pydantic import Field, PrivateAttr

from perf_tests.errors import ScenarioError
from perf_tests.llm.executors.options import ExecutorOptions
from perf_tests.models.scenario import EntryFiles
from perf_tests.tekton.session import OPERATIONS

if TYPE_CHECKING:
    from perf_tests.llm.options import LlmLoadFields

__all__ = ["TEMPLATES_FOLDER", "TektonExecutorOptions", "load_template"]

TEMPLATES_FOLDER = "tekton"


class TektonExecutorOptions(ExecutorOptions):
    """``pipelineRunTemplate`` and ``keepPipelineRuns``; only with ``"executor": "tekton"``."""

    operations: ClassVar[tuple[str, ...]] = OPERATIONS

    pipeline_run_template: str | None = Field(
        default=None,
        description="A tekton.dev/v1 PipelineRun YAML file to run instead of the built-in one (executor tekton); "
        "the params it declares get the entry's values.",
    )
    keep_pipeline_runs: bool | None = Field(
        default=None,
        description="Keep the PipelineRuns after the run (executor tekton; default TEKTON_KEEP_PIPELINERUNS).",
    )
    # Resolved by ``resolve_executor_files``; not a field, so a scenario file cannot set it.
    _pipeline_run_template_path: Path | None = PrivateAttr(default=None)

    @property
    def pipeline_run_template_path(self) -> Path | None:
        """The PipelineRun template found for ``pipelineRunTemplate``."""
        return self._pipeline_run_template_path

    @pipeline_run_template_path.setter
    def pipeline_run_template_path(self, value: Path | None) -> None:
        self._pipeline_run_template_path = value

    def executor_problems(self, entry: LlmLoadFields) -> None:
        """What a TaskRun pod cannot use: no target (the local mock), local data or tokenizer files."""
        if entry.target_url is None and entry.stack is None:  # a stack sets it when it is ready
            raise ValueError(
                'executor "tekton" needs targetUrl: the model\'s address as a pod in the cluster sees it (e.g. '
                "http://my-model.my-namespace.svc.cluster.local:8000); the embedded mock target is local only"
            )
        if entry.data_file is not None:
            raise ValueError(
                "dataFile is a file on this machine, which a TaskRun pod cannot read: with executor "
                '"tekton" use promptTokens/outputTokens, or a pipelineRunTemplate that provides the data'
            )
        tokenizer = entry.tokenizer
        if isinstance(tokenizer, str) and not tokenizer.startswith("hf:"):
            raise ValueError(
                "tokenizer is a folder on this machine, which a TaskRun pod cannot read: with executor "
                '"tekton" give "hf:org/name" or leave it out (the model\'s tokenizer is then loaded '
                "in the cluster)"
            )

    def executor_file_problems(self, entry: LlmLoadFields, files: EntryFiles) -> list[str]:
        """Problems with the template file (missing, not a v1 PipelineRun); empty when fine."""
        if self.pipeline_run_template is None:
            return []
        found = files.find(self.pipeline_run_template, TEMPLATES_FOLDER)
        if found is None:
            looked = ", ".join(str(p) for p in files.candidates(self.pipeline_run_template, TEMPLATES_FOLDER))
            return [f"field 'pipelineRunTemplate': file {self.pipeline_run_template!r} not found (looked in {looked})"]
        try:
            load_template(found)
        except ScenarioError as exc:
            return [f"field 'pipelineRunTemplate': {exc}"]
        return []

    def resolve_executor_files(self, entry: LlmLoadFields, files: EntryFiles) -> None:
        """Remember the template's resolved path."""
        if self.pipeline_run_template is not None:
            self.pipeline_run_template_path = files.find(self.pipeline_run_template, TEMPLATES_FOLDER)


def load_template(path: Path) -> dict[str, Any]:
    """The PipelineRun of a template file; ScenarioError when it is not one ``tekton.dev/v1`` PipelineRun."""
    try:
        documents = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path} cannot be read as YAML: {exc}") from None
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise ScenarioError(f"{path} must hold exactly one PipelineRun, found {len(documents)} documents")
    template: dict[str, Any] = documents[0]
    if template.get("kind") != "PipelineRun" or template.get("apiVersion") != "tekton.dev/v1":
        raise ScenarioError(
            f"{path} must be a tekton.dev/v1 PipelineRun, got {template.get('apiVersion')} {template.get('kind')}"
        )
    return template
