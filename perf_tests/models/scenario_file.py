"""Reading a scenario file into validated entries, with errors a person can act on.

``load_scenario`` finds the file (a path, or a name in ``test_data/scenarios/``), parses the JSON list,
expands ``matrix`` entries into one entry per combination, validates each entry with its mode's options
model and checks the files the entries refer to. Every problem is a ``ScenarioError`` whose message
names the file, the entry (index and name), the field and what is allowed; all problems of a file are
reported together.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from perf_tests.errors import ScenarioError
from perf_tests.models.durations import parse_duration
from perf_tests.models.scenario import EntryFiles, ScenarioEntry

__all__ = ["Scenario", "entry_adapter", "load_scenario", "resolve_scenario_path", "scenario_json_schema"]

SCENARIOS_FOLDER = "scenarios"
_MAX_MATRIX_COMBINATIONS = 1000
_MAX_LABEL = 60


@dataclass
class Scenario:
    """A validated scenario file: its path, its raw JSON as run, and one entry per runner."""

    path: Path | None
    raw: list[Any]
    entries: list[ScenarioEntry] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Seconds from test start to the end of the last entry."""
        return max((entry.end_time for entry in self.entries), default=0.0)


def resolve_scenario_path(name: str, data_dir: Path) -> Path:
    """The scenario file ``name`` names: a path as given, or a file in ``<data_dir>/scenarios/``."""
    if not name.strip():
        raise ScenarioError("SCENARIO_FILE_NAME is empty: name a file in test_data/scenarios/ or a path")
    given = Path(name).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, data_dir / SCENARIOS_FOLDER / given]
    if not given.suffix:
        candidates += [c.with_suffix(".json") for c in candidates]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    folder = data_dir / SCENARIOS_FOLDER
    available = sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []
    raise ScenarioError(
        f"scenario file {name!r} not found (looked in: {', '.join(str(c) for c in candidates)}). "
        f"Files in {folder}: {', '.join(available) or 'none'}"
    )


def entry_adapter(modes: Mapping[str, type[ScenarioEntry]]) -> TypeAdapter[Any]:
    """A validator for one entry: the union of the registered options models, discriminated on mode."""
    models = tuple(modes.values())
    if len(models) == 1:
        return TypeAdapter(models[0])
    union = Union[models]  # type: ignore[valid-type]  # noqa: UP007 - built at run time from the registry
    return TypeAdapter(Annotated[union, Field(discriminator="mode")])


def scenario_json_schema(modes: Mapping[str, type[ScenarioEntry]]) -> dict[str, Any]:
    """JSON Schema of a scenario file (a list of entries), for editors."""
    item = entry_adapter(modes).json_schema(by_alias=True)
    defs = item.pop("$defs", {})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "perf-tests scenario file",
        "description": "A list of scenario entries; each names a mode, when it starts and how long it runs.",
        "type": "array",
        "items": item,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def load_scenario(
    name_or_path: str | Path,
    modes: Mapping[str, type[ScenarioEntry]],
    data_dir: Path,
) -> Scenario:
    """Find, parse, expand and validate a scenario file; raise ``ScenarioError`` listing every problem."""
    path = resolve_scenario_path(str(name_or_path), data_dir)
    raw = _read_json_list(path)
    return build_scenario(raw, modes, data_dir, path)


def build_scenario(
    raw: list[Any],
    modes: Mapping[str, type[ScenarioEntry]],
    data_dir: Path,
    path: Path | None = None,
) -> Scenario:
    """Validate an already parsed list of entries (see ``load_scenario``)."""
    where = str(path) if path else "scenario"
    if not raw:
        raise ScenarioError(f"{where}: the scenario list is empty; add at least one entry")
    adapter = entry_adapter(modes)
    files = EntryFiles(path, data_dir)
    problems: list[str] = []
    entries: list[ScenarioEntry] = []
    for index, item in enumerate(raw):
        label = _label(index, item)
        if not isinstance(item, dict):
            problems.append(f"entry {label}: expected an object {{\"mode\": ..., \"startTime\": ..., "
                            f"\"runTime\": ...}}, got {_kind(item)}")
            continue
        try:
            expanded = _expand_matrix(item, index)
        except _FieldError as exc:
            problems.append(f"entry {label}: field {exc.field_name!r}: {exc}")
            continue
        except ValueError as exc:
            problems.append(f"entry {label}: field 'matrix': {exc}")
            continue
        for sub in expanded:
            try:
                entry = adapter.validate_python(sub)
            except ValidationError as exc:
                problems.extend(
                    f"entry {_label(index, sub)}: {line}" for line in _describe(exc, modes, item)
                )
                continue
            if not entry.name:
                entry.name = f"{entry.mode}#{index}"
            file_problems = entry.check_files(files)
            problems.extend(f"entry {_label(index, sub)}: {p}" for p in file_problems)
            if not file_problems:
                entry.resolve_files(files)
            entries.append(entry)
    seen: dict[str, int] = {}
    for entry in entries:
        seen[entry.name] = seen.get(entry.name, 0) + 1
    duplicates = sorted(name for name, count in seen.items() if count > 1)
    if duplicates:
        problems.append(f"entry names must be unique; repeated: {', '.join(duplicates)}")
    if problems:
        raise ScenarioError(f"{where}: " + ("\n  " if len(problems) > 1 else "") + "\n  ".join(problems))
    return Scenario(path=path, raw=raw, entries=entries)


def _read_json_list(path: Path) -> list[Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the scenario file as UTF-8 JSON"
        ) from None
    if not text.strip():
        raise ScenarioError(f"{path}: the file is empty; expected a JSON list of scenario entries")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ScenarioError(f"{path}: the JSON is nested too deeply to be a scenario file") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ScenarioError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(parsed, list):
        hint = " (wrap the entry in [ ])" if isinstance(parsed, dict) and "mode" in parsed else ""
        raise ScenarioError(f"{path}: expected a JSON list of scenario entries, got {_kind(parsed)}{hint}")
    return parsed


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _printable(text: str) -> bool:
    """Fit to stand in a one-line message: printable, encodable, short."""
    if len(text) > _MAX_LABEL or not text.isprintable():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _label(index: int, item: Any) -> str:
    """``index (name)`` for messages; a name unfit to print (the one an error may reject) is not repeated."""
    name = item.get("name") if isinstance(item, dict) else None
    mode = item.get("mode") if isinstance(item, dict) else None
    fallback = f"{mode}#{index}" if isinstance(mode, str) and _printable(mode) else None
    shown = name if isinstance(name, str) and name and _printable(name) else fallback
    return f"{index} ({shown})" if shown else str(index)


class _FieldError(ValueError):
    """A problem with one named field found while expanding a matrix entry."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


def _seconds_text(seconds: float) -> str:
    """Seconds as a duration string that parses back exactly (never scientific notation)."""
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s" if seconds else "0s"


def _expand_matrix(item: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """One entry per combination of the ``matrix`` factors, run one after another or ``matrixStagger`` apart."""
    matrix = item.get("matrix")
    stagger = item.get("matrixStagger")
    if matrix is None:
        if stagger is not None:
            raise ValueError("matrixStagger is only allowed together with matrix")
        return [item]
    if not isinstance(matrix, dict) or not matrix:
        raise ValueError("expected an object of factor name -> list of values, e.g. {\"rate\": [1, 2, 4]}")
    for factor, values in matrix.items():
        if factor in ("mode", "name", "startTime", "runTime", "matrix", "matrixStagger"):
            raise ValueError(f"factor {factor!r} cannot vary; vary a mode field such as rate")
        if not isinstance(values, list) or not values:
            raise ValueError(f"factor {factor!r} needs a non-empty list of values")
    count = math.prod(len(values) for values in matrix.values())
    if count > _MAX_MATRIX_COMBINATIONS:
        raise ValueError(f"{count} combinations; at most {_MAX_MATRIX_COMBINATIONS} are allowed")
    combinations = list(itertools.product(*matrix.values()))
    base = {k: v for k, v in item.items() if k not in ("matrix", "matrixStagger")}
    times = {}
    for field_name, value in (("startTime", item.get("startTime", 0)), ("runTime", item.get("runTime", 0)),
                              ("matrixStagger", stagger)):
        if value is None:
            continue
        try:
            times[field_name] = parse_duration(value, 60.0)
        except ValueError as exc:
            raise _FieldError(field_name, f"{exc} (got {json.dumps(value)[:80]})") from None
    start, run = times["startTime"], times["runTime"]
    step = times.get("matrixStagger", run)
    base_name = item.get("name") or f"{item.get('mode', 'ENTRY')}#{index}"
    expanded = []
    for number, combination in enumerate(combinations):
        sub = dict(base)
        sub.update(zip(matrix.keys(), combination, strict=True))
        sub["startTime"] = _seconds_text(start + number * step)
        sub["runTime"] = _seconds_text(run)
        sub["name"] = f"{base_name}[" + ",".join(
            f"{factor}={value}" for factor, value in zip(matrix.keys(), combination, strict=True)
        ) + "]"
        expanded.append(sub)
    return expanded


def _describe(
    exc: ValidationError, modes: Mapping[str, type[ScenarioEntry]], item: dict[str, Any]
) -> list[str]:
    lines: list[str] = []
    valid_modes = ", ".join(sorted(modes))
    factors = set(item.get("matrix") or {}) if isinstance(item.get("matrix"), dict) else set()
    for err in exc.errors(include_url=False):
        kind = err["type"]
        loc = [str(part) for part in err["loc"]]
        if kind == "union_tag_not_found":
            lines.append(f"field 'mode' is missing; valid modes: {valid_modes}")
            continue
        if kind == "union_tag_invalid":
            lines.append(f"field 'mode': unknown mode {item.get('mode')!r}; valid modes: {valid_modes}")
            continue
        if loc and loc[0] in modes and len(modes) > 1:
            loc = loc[1:]  # drop the union tag
        field_name = ".".join(loc) if loc else "(entry)"
        top = loc[0] if loc else ""
        model = modes.get(str(item.get("mode")))
        if kind == "extra_forbidden":
            allowed = sorted(_aliases(model)) if model else []
            what = "matrix factor" if top in factors else "field"
            lines.append(f"{what} {field_name!r} is not allowed for mode {item.get('mode')}; "
                         f"allowed fields: {', '.join(allowed)}")
            continue
        if kind == "missing":
            lines.append(f"field {field_name!r} is required")
            continue
        shown = err.get("input")
        got = f" (got {json.dumps(shown)[:80]})" if not isinstance(shown, dict) else ""
        message = str(err["msg"]).removeprefix("Value error, ")
        what = "matrix factor" if top in factors else "field"
        lines.append(f"{what} {field_name!r}: {message}{got}")
    return lines


def _aliases(model: type[ScenarioEntry]) -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        names.append(info.alias or to_camel(name))
    return names


def entries_json(entries: Sequence[ScenarioEntry]) -> list[dict[str, Any]]:
    """The entries as run, in scenario-file form (camelCase, times in seconds as strings)."""
    out = []
    for entry in entries:
        data = entry.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["startTime"] = _seconds_text(entry.start_time)
        data["runTime"] = _seconds_text(entry.run_time)
        out.append(data)
    return out
