"""Scenario entries: the fields every mode shares, and the base of each mode's options model.

A scenario file is a JSON list of entries. Each entry names a ``mode``; the mode's options model (a
subclass of ``ScenarioEntry`` with ``mode: Literal["..."]``) validates it. Times are minutes from the
test start, as in the original framework, or duration strings; they are held in seconds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, ClassVar, get_args

from pydantic import BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from perf_tests.errors import echo
from perf_tests.models.durations import Minutes
from perf_tests.models.fields import FileName, OptionsModel, PipelineParams, expand_user
from perf_tests.models.prometheus import PrometheusBlock
from perf_tests.thresholds.parser import check_thresholds, parse_threshold

__all__ = [
    "FIXED_FIELDS",
    "MAX_MATRIX_COMBINATIONS",
    "MAX_NAME_LENGTH",
    "NESTED_FACTORS",
    "EntryFiles",
    "MatrixFactors",
    "PipelineEntry",
    "ScenarioEntry",
    "check_matrix",
    "matrix_json_schema",
]

MAX_NAME_LENGTH = 200
"""Characters of an entry name (names appear in one-line logs and become file and folder names)."""

MAX_MATRIX_COMBINATIONS = 1000
"""Entries one ``matrix`` may expand to."""

FIXED_FIELDS = ("mode", "name", "startTime", "runTime", "matrix", "matrixStagger")
"""Fields a matrix cannot vary: they place and name the expanded entries."""


def check_matrix(value: object) -> dict[str, list[Any]]:
    """A ``matrix`` (factor name -> non-empty list of values, at most ``MAX_MATRIX_COMBINATIONS``
    combinations); ``ValueError`` saying what is wrong. Used by the model and by the expansion."""
    if not isinstance(value, dict) or not value:
        raise ValueError("expected an object of factor name -> list of values, e.g. {\"rate\": [1, 2, 4]}")
    for factor, values in value.items():
        if factor in FIXED_FIELDS or factor in ("start_time", "run_time", "matrix_stagger"):
            raise ValueError(f"factor {echo(factor)} cannot vary; vary a mode field such as rate")
        if not isinstance(values, list) or not values:
            raise ValueError(f"factor {echo(factor)} needs a non-empty list of values")
    count = math.prod(len(values) for values in value.values())
    if count > MAX_MATRIX_COMBINATIONS:
        raise ValueError(f"{count} combinations; at most {MAX_MATRIX_COMBINATIONS} are allowed")
    return value


MatrixFactors = Annotated[dict[str, list[Any]], BeforeValidator(check_matrix)]
"""A ``matrix``: each factor (a field of the mode) with the values it takes, one entry per combination."""


NESTED_FACTORS: dict[str, dict[str, Any]] = {}
"""Fields whose own fields a matrix may vary with a dotted name (``"stack.replicas"``): field alias ->
{nested alias: JSON Schema of one value}; filled by the modules that define such blocks."""


def matrix_json_schema(schema: dict[str, Any], model: type[Any]) -> None:
    """Type a mode's ``matrix`` in its JSON Schema: each factor is one of the mode's fields, and its
    values are lists of what that field takes (run again by a mode that adds properties to its schema)."""
    properties: dict[str, Any] = schema.get("properties", {})
    if "matrix" not in properties:
        return
    factors = {}
    for key, field_schema in properties.items():
        if key in FIXED_FIELDS or key in ("start_time", "run_time", "matrix_stagger"):
            continue
        item = {k: v for k, v in field_schema.items() if k not in ("default", "title", "description")}
        factors[key] = {"type": "array", "minItems": 1, "items": item}
        for nested, nested_schema in NESTED_FACTORS.get(key, {}).items():
            factors[f"{key}.{nested}"] = {"type": "array", "minItems": 1, "items": nested_schema}
    properties["matrix"] = {
        "anyOf": [
            {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": factors},
            {"type": "null"},
        ],
        "description": properties["matrix"].get("description", ""),
    }


class EntryFiles:
    """Where an entry's files are looked up: next to the scenario file, then the data folders."""

    def __init__(self, scenario_file: Path | None, data_dir: Path) -> None:
        self.scenario_dir = scenario_file.parent if scenario_file else Path.cwd()
        self.data_dir = data_dir

    def candidates(self, name: str, folder: str) -> list[Path]:
        try:
            given = expand_user(name)
        except ValueError:  # an unknown ~user: the field's own check (FileName) says so
            given = Path(name)
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
            try:
                if candidate.is_file():
                    return candidate.resolve()
            except (OSError, ValueError):  # a name too long for the file system, a NUL byte
                continue
        return None

    def find_dir(self, name: str, folder: str) -> Path | None:
        """The first candidate that is a folder, or None (never an error for a name the file system rejects)."""
        for candidate in self.candidates(name, folder):
            try:
                if candidate.is_dir():
                    return candidate.resolve()
            except (OSError, ValueError):
                continue
        return None

    def available(self, folder: str, pattern: str = "*") -> list[str]:
        names: set[str] = set()
        for directory in (self.scenario_dir.parent / folder, self.data_dir / folder):
            if directory.is_dir():
                names.update(p.name for p in directory.glob(pattern) if p.is_file())
        return sorted(names)


class ScenarioEntry(OptionsModel):
    """Fields every scenario entry has. Subclass it per mode with ``mode: Literal["NAME"]``.

    ``matrix`` and ``matrixStagger`` are expanded by the scenario-file loader before the entries are
    validated (an expanded entry has neither); they are fields here so that the JSON Schema, generated
    from these models, has them too.
    """

    model_config = ConfigDict(validate_default=True, json_schema_extra=matrix_json_schema)

    # Operation names this mode records, for threshold validation and reports (set per mode).
    operations: ClassVar[tuple[str, ...]] = ()
    # Its set-up and clean-up calls: their count per second of the entry's window means nothing, so the
    # summary gives them no throughput (set per mode).
    setup_operations: ClassVar[frozenset[str]] = frozenset()

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
    prometheus: PrometheusBlock | None = Field(
        default=None,
        description="Named PromQL queries evaluated over the entry's window (PROMETHEUS_URL); thresholds "
        "refer to them as prom:<name>, e.g. 'max(prom:waiting) < 10'.",
    )
    strict_harness: bool = Field(
        default=False, description="Fail the entry when the load generator itself was saturated (CPU over 90% "
        "of a core, or p99 send lateness / event-loop lag over 100ms); otherwise that is a warning.",
    )
    matrix: MatrixFactors | None = Field(
        default=None, exclude=True,
        description="Run the entry once per combination of factor values (factor: a field of the mode -> "
        f"list of values), one after another; at most {MAX_MATRIX_COMBINATIONS} combinations.",
    )
    matrix_stagger: Minutes | None = Field(
        default=None, exclude=True,
        description="With matrix: minutes between the starts of the expanded entries (default: runTime).",
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
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"the name is longer than {MAX_NAME_LENGTH} characters ({len(name)})")
        return name

    @classmethod
    def threshold_operations(cls) -> tuple[str, ...]:
        """The operation names thresholds may name (``operations``; a mode may add more)."""
        return cls.operations

    @classmethod
    def extra_field_aliases(cls) -> tuple[str, ...]:
        """Keys an entry of this mode accepts besides its model's fields (none by default)."""
        return ()

    @field_validator("thresholds")
    @classmethod
    def _valid_thresholds(cls, value: list[str]) -> list[str]:
        # Metric and operation names are checked before the run starts; modes that list no operations
        # accept any operation name.
        mode = next(iter(get_args(cls.model_fields["mode"].annotation)), "")
        check_thresholds(value, cls.threshold_operations(), str(mode))
        return [text.strip() for text in value]

    @model_validator(mode="after")
    def _known_queries(self) -> ScenarioEntry:
        """A threshold on ``prom:<name>`` names a query of the entry's prometheus block."""
        defined = self.prometheus.names if self.prometheus is not None else []
        for text in self.thresholds:
            threshold = parse_threshold(text)
            name = threshold.prometheus_query
            if name is not None and name not in defined:
                listed = ", ".join(f"prom:{n}" for n in defined) if defined else "none (add a 'prometheus' block)"
                raise ValueError(f"threshold {echo(text)}: unknown query {echo(name)}; defined queries: {listed}")
        return self

    @property
    def end_time(self) -> float:
        """Seconds after the test start at which the entry is stopped."""
        return self.start_time + self.run_time

    def check_files(self, files: EntryFiles) -> list[str]:
        """Problems with files the entry refers to (missing pipeline file, ...); empty when fine."""
        return []

    def resolve_files(self, files: EntryFiles) -> None:
        """Replace file names by resolved paths once ``check_files`` found no problem."""

    def follow(self, previous: ScenarioEntry) -> None:
        """Called on each entry a ``matrix`` expanded, with the combination before it (default: nothing;
        an LLM_LOAD entry with a stack deploys only after the previous one's stack is torn down)."""


class PipelineEntry(ScenarioEntry):
    """Fields shared by the modes that upload and run a pipeline."""

    num_times: int = Field(default=1, ge=1, le=100_000, description="Runs kept in flight (uploads for "
                           "PIPELINE_UPLOAD).")
    pipeline_file_name: FileName = Field(
        default="add_numbers.yaml", description="Pipeline package in test_data/pipeline_files/ or a path."
    )
    params: PipelineParams = Field(default_factory=dict, description="Pipeline arguments of every run.")
    # Resolved by ``resolve_files``; not a field, so a scenario file cannot set it (nor does the schema show it).
    _pipeline_path: Path | None = PrivateAttr(default=None)

    @property
    def pipeline_path(self) -> Path | None:
        """The pipeline package found for ``pipelineFileName``."""
        return self._pipeline_path

    @pipeline_path.setter
    def pipeline_path(self, value: Path | None) -> None:
        self._pipeline_path = value

    def check_files(self, files: EntryFiles) -> list[str]:
        if files.find(self.pipeline_file_name, "pipeline_files") is not None:
            return []
        looked = ", ".join(str(p) for p in files.candidates(self.pipeline_file_name, "pipeline_files"))
        available = ", ".join(files.available("pipeline_files", "*.yaml")) or "none"
        return [
            f"field 'pipelineFileName': pipeline file {echo(self.pipeline_file_name)} not found "
            f"(looked in {looked}; available: {available})"
        ]

    def resolve_files(self, files: EntryFiles) -> None:
        self.pipeline_path = files.find(self.pipeline_file_name, "pipeline_files")

    @model_validator(mode="after")
    def _pipeline_suffix(self) -> PipelineEntry:
        if not self.pipeline_file_name.endswith((".yaml", ".yml", ".json", ".zip", ".tar.gz", ".tgz")):
            raise ValueError(
                f"pipelineFileName {echo(self.pipeline_file_name)} must be a compiled pipeline package "
                "(.yaml, .yml, .json, .zip, .tar.gz)"
            )
        return self
