"""The fields an executor adds to an ``LLM_LOAD`` entry: ``ExecutorOptions``, one model per executor.

Each executor carries its own options model (``Executor.options_model``; the Tekton one is
``perf_tests.llm.executors.tekton_options.TektonExecutorOptions``), a plugin executor too. The entry model
(``perf_tests.llm.options.LlmLoadFields``) composes them: a scenario file and its JSON Schema stay flat
(``"executor": "tekton", "keepPipelineRuns": true``); the entry splits its executor's fields off into that
executor's model (``entry.executor_options``), a field of another executor is an error naming that
executor, and the hooks below (called on the entry's options, with the entry) check the entry's other
fields and the executor's own files.

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
    def field_aliases(cls) -> tuple[str, ...]:
        """This model's fields as a scenario file names them (camelCase)."""
        return tuple(field.alias or name for name, field in cls.model_fields.items())

    @classmethod
    def field_keys(cls) -> frozenset[str]:
        """The keys that set one of this model's fields: aliases and Python names."""
        return frozenset((*cls.field_aliases(), *cls.model_fields))

    def executor_problems(self, entry: LlmLoadFields) -> None:
        """Raise ``ValueError`` for what this executor cannot run (``entry.executor`` is this executor)."""

    def executor_file_problems(self, entry: LlmLoadFields, files: EntryFiles) -> list[str]:
        """Problems with the files this executor's fields name; empty when fine."""
        return []

    def resolve_executor_files(self, entry: LlmLoadFields, files: EntryFiles) -> None:
        """Remember where the files this executor's fields name were found."""
