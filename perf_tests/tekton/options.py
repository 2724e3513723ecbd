"""Scenario-entry fields of the Tekton executor, mixed into the ``LLM_LOAD`` options model.

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
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from perf_tests.errors import ScenarioError
from perf_tests.models.scenario import EntryFiles

__all__ = ["TEMPLATES_FOLDER", "TektonEntryFields", "load_template"]

TEMPLATES_FOLDER = "tekton"


class TektonEntryFields(BaseModel):
    """``pipelineRunTemplate`` and ``keepPipelineRuns``; only with ``"executor": "tekton"``."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    pipeline_run_template: str | None = Field(
        default=None,
        description="A tekton.dev/v1 PipelineRun YAML file to run instead of the built-in one (executor tekton); "
        "the params it declares get the entry's values.",
    )
    keep_pipeline_runs: bool | None = Field(
        default=None,
        description="Keep the PipelineRuns after the run (executor tekton; default TEKTON_KEEP_PIPELINERUNS).",
    )
    pipeline_run_template_path: Path | None = Field(default=None, exclude=True, description="Resolved template file.")

    @model_validator(mode="after")
    def _only_for_tekton(self) -> TektonEntryFields:
        executor = getattr(self, "executor", "tekton")
        if executor == "tekton":
            self._check_runs_in_cluster()
        else:
            given = [
                alias
                for alias, value in (
                    ("pipelineRunTemplate", self.pipeline_run_template),
                    ("keepPipelineRuns", self.keep_pipeline_runs),
                )
                if value is not None
            ]
            if given:
                raise ValueError(f'{" and ".join(given)} apply only to "executor": "tekton"')
        return self

    def _check_runs_in_cluster(self) -> None:
        """What a TaskRun pod cannot use: no target (the local mock), local data or tokenizer files."""
        if getattr(self, "target_url", "") is None and getattr(self, "stack", None) is None:  # a stack sets it
            raise ValueError(
                'executor "tekton" needs targetUrl: the model\'s address as a pod in the cluster sees it (e.g. '
                "http://my-model.my-namespace.svc.cluster.local:8000); the embedded mock target is local only"
            )
        if getattr(self, "data_file", None) is not None:
            raise ValueError(
                "dataFile is a file on this machine, which a TaskRun pod cannot read: with executor "
                '"tekton" use promptTokens/outputTokens, or a pipelineRunTemplate that provides the data'
            )
        tokenizer = getattr(self, "tokenizer", None)
        if isinstance(tokenizer, str) and not tokenizer.startswith("hf:"):
            raise ValueError(
                "tokenizer is a folder on this machine, which a TaskRun pod cannot read: with executor "
                '"tekton" give "hf:org/name" or leave it out (the model\'s tokenizer is then loaded '
                "in the cluster)"
            )

    def tekton_file_problems(self, files: EntryFiles) -> list[str]:
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

    def resolve_tekton_files(self, files: EntryFiles) -> None:
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
