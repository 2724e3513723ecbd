"""Scenario entries: the fields every mode shares, and the base of each mode's options model.

A scenario file is a JSON list of entries. Each entry names a ``mode``; the mode's options model (a
subclass of ``ScenarioEntry`` with ``mode: Literal["..."]``) validates it. Times are minutes from the
test start, as in the original framework, or duration strings; they are held in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from perf_tests.models.durations import Minutes
from perf_tests.thresholds.parser import check_thresholds

__all__ = ["EntryFiles", "PipelineEntry", "ScenarioEntry"]


class EntryFiles:
    """Where an entry's files are looked up: next to the scenario file, then the data folders."""

    def __init__(self, scenario_file: Path | None, data_dir: Path) -> None:
        self.scenario_dir = scenario_file.parent if scenario_file else Path.cwd()
        self.data_dir = data_dir

    def candidates(self, name: str, folder: str) -> list[Path]:
        given = Path(name).expanduser()
        if given.is_absolute():
            return [given]
        return [
            Path.cwd() / given,
            self.scenario_dir / given,
            self.scenario_dir.parent / folder / given,
            self.data_dir / folder / given,
        ]

    def find(self, name: str, folder: str) -> Path | None:
        for candidate in self.candidates(name, folder):
            if candidate.is_file():
                return candidate.resolve()
        return None

    def available(self, folder: str, pattern: str = "*") -> list[str]:
        names: set[str] = set()
        for directory in (self.scenario_dir.parent / folder, self.data_dir / folder):
            if directory.is_dir():
                names.update(p.name for p in directory.glob(pattern) if p.is_file())
        return sorted(names)


class ScenarioEntry(BaseModel):
    """Fields every scenario entry has. Subclass it per mode with ``mode: Literal["NAME"]``."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )

    # Operation names this mode records, for threshold validation and reports (set per mode).
    operations: ClassVar[tuple[str, ...]] = ()

    mode: str
    name: str = Field(default="", description="Name in logs and reports; default '<mode>#<index>'.")
    start_time: Minutes = Field(description="When the entry starts: minutes after the test start.")
    run_time: Minutes = Field(description="How long the entry runs: minutes (or a duration string).")
    thresholds: list[str] = Field(
        default_factory=list,
        description="Pass/fail criteria 'metric(operation) <comparator> limit', e.g. 'p95(create_run) < 2s', "
        "'success_rate >= 0.99', 'rate(list_runs) >= 190', 'dropped == 0', 'p95(get_run) < baseline + 20%'; "
        "metrics: avg, mean, med, min, max, pNN, rate, count, failed, success_rate, error_rate, dropped.",
    )
    allowed_failure_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Failed operations tolerated without thresholds (0..1)."
    )

    @field_validator("run_time")
    @classmethod
    def _positive_run_time(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("runTime must be greater than 0")
        return value

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        name = value.strip()
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the name holds an invalid character (a lone surrogate escape)") from None
        if any(ord(char) < 32 for char in name):
            raise ValueError("the name cannot hold control characters (newlines, tabs)")
        if len(name) > 200:
            raise ValueError("the name is longer than 200 characters")
        return name

    @field_validator("thresholds")
    @classmethod
    def _valid_thresholds(cls, value: list[str]) -> list[str]:
        # Metric and operation names are checked before the run starts; modes that list no operations
        # accept any operation name.
        mode = next(iter(get_args(cls.model_fields["mode"].annotation)), "")
        check_thresholds(value, cls.operations, str(mode))
        return [text.strip() for text in value]

    @property
    def end_time(self) -> float:
        """Seconds after the test start at which the entry is stopped."""
        return self.start_time + self.run_time

    def check_files(self, files: EntryFiles) -> list[str]:
        """Problems with files the entry refers to (missing pipeline file, ...); empty when fine."""
        return []

    def resolve_files(self, files: EntryFiles) -> None:
        """Replace file names by resolved paths once ``check_files`` found no problem."""


class PipelineEntry(ScenarioEntry):
    """Fields shared by the modes that upload and run a pipeline."""

    num_times: int = Field(default=1, ge=1, le=100_000, description="Runs kept in flight (uploads for "
                           "PIPELINE_UPLOAD).")
    pipeline_file_name: str = Field(
        default="add_numbers.yaml", description="Pipeline package in test_data/pipeline_files/ or a path."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Pipeline arguments of every run.")
    pipeline_path: Path | None = Field(default=None, exclude=True, description="Resolved pipeline file.")

    def check_files(self, files: EntryFiles) -> list[str]:
        if files.find(self.pipeline_file_name, "pipeline_files") is not None:
            return []
        looked = ", ".join(str(p) for p in files.candidates(self.pipeline_file_name, "pipeline_files"))
        available = ", ".join(files.available("pipeline_files", "*.yaml")) or "none"
        return [
            f"field 'pipelineFileName': pipeline file {self.pipeline_file_name!r} not found "
            f"(looked in {looked}; available: {available})"
        ]

    def resolve_files(self, files: EntryFiles) -> None:
        self.pipeline_path = files.find(self.pipeline_file_name, "pipeline_files")

    @model_validator(mode="after")
    def _pipeline_suffix(self) -> PipelineEntry:
        if not self.pipeline_file_name.endswith((".yaml", ".yml", ".json", ".zip", ".tar.gz", ".tgz")):
            raise ValueError(
                f"pipelineFileName {self.pipeline_file_name!r} must be a compiled pipeline package "
                "(.yaml, .yml, .json, .zip, .tar.gz)"
            )
        return self
