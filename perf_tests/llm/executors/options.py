"""The fields an executor adds to an ``LLM_LOAD`` entry: ``ExecutorOptions``, one model per executor.

Each executor carries its own options model (``Executor.options_model``; the Tekton one is
``perf_tests.llm.executors.tekton_options.TektonExecutorOptions``). The entry model
(``perf_tests.llm.options.LlmLoadFields``) mixes in the built-in executors' models, so a scenario file and
its JSON Schema stay flat (``"executor": "tekton", "keepPipelineRuns": true``), and calls the hooks below
with itself: a field of another executor is an error naming that executor, and the chosen executor
checks the entry's other fields (typed, through the entry) and its own files.

Light on purpose: ``perf_tests.llm.options`` imports it, so nothing here imports an executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    from perf_tests.llm.options import LlmLoadFields
    from perf_tests.models.scenario import EntryFiles

__all__ = ["ExecutorOptions"]


class ExecutorOptions(BaseModel):
    """An executor's own entry fields (none for the local executor) and its checks of an entry."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    operations: ClassVar[tuple[str, ...]] = ()
    """The operations the executor records itself (thresholds may name them)."""

    @classmethod
    def given_executor_fields(cls, entry: LlmLoadFields) -> list[str]:
        """The aliases of this model's fields that ``entry`` sets."""
        return [field.alias or name for name, field in cls.model_fields.items() if getattr(entry, name) is not None]

    @classmethod
    def executor_problems(cls, entry: LlmLoadFields) -> None:
        """Raise ``ValueError`` for what this executor cannot run (``entry.executor`` is this executor)."""

    @classmethod
    def executor_file_problems(cls, entry: LlmLoadFields, files: EntryFiles) -> list[str]:
        """Problems with the files this executor's fields name; empty when fine."""
        return []

    @classmethod
    def resolve_executor_files(cls, entry: LlmLoadFields, files: EntryFiles) -> None:
        """Remember where the files this executor's fields name were found."""
