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
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from perf_tests.errors import ScenarioError, echo, echo_json
from perf_tests.logger.redaction import redact_data
from perf_tests.models.durations import parse_duration
from perf_tests.models.fields import check_file_name, expand_user
from perf_tests.models.scenario import MAX_NAME_LENGTH, EntryFiles, ScenarioEntry, check_matrix

__all__ = [
    "SCENARIO_SCHEMA_FILE",
    "Scenario",
    "entry_adapter",
    "load_scenario",
    "resolve_scenario_path",
    "scenario_json_schema",
]

SCENARIOS_FOLDER = "scenarios"
SCENARIO_SCHEMA_FILE = Path(__file__).parent / "schemas" / "scenario.schema.json"
"""The published JSON Schema of scenario files with the built-in modes (``python -m perf_tests schema``)."""
_MAX_LABEL = 60
# pydantic names the branch of a union in an error's location ("simulatorData.bool",
# "simulatorData.function-after[_runs_need_a_pipeline(), SeedPlan]"); a user knows only the field.
_UNION_BRANCH = re.compile(r"^(?:function-(?:after|before|wrap|plain)\[.*\]|is-instance\[.*\]|bool|int|float|str)$")
_SCALAR_BRANCHES = {"bool", "int", "float", "str"}
_MAX_PROBLEMS = 20  # problems listed in one error; the rest are counted
_MAX_LINE = 1000  # characters of one problem line; a longer one loses its middle


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
    try:
        check_file_name(name)
        given = expand_user(name)
    except ValueError as exc:
        raise ScenarioError(f"scenario file name: {exc}") from None
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, data_dir / SCENARIOS_FOLDER / given]
    if not given.suffix:
        candidates += [c.with_suffix(".json") for c in candidates]
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate.resolve()
            mode = candidate.stat().st_mode
        except (OSError, ValueError):  # missing, or the folder and the name together are too long
            continue
        if not stat.S_ISDIR(mode):  # a FIFO would hang the run, a device such as /dev/zero fill the memory
            raise ScenarioError(
                f"{candidate}: not a regular file (it is {_file_kind(mode)}); give a scenario file (a JSON list)"
            )
    folder = data_dir / SCENARIOS_FOLDER
    available = sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []
    raise ScenarioError(
        f"scenario file {echo(name)} not found (looked in: {', '.join(str(c) for c in candidates)}). "
        f"Files in {folder}: {', '.join(available) or 'none'}"
    )


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def entry_adapter(modes: Mapping[str, type[ScenarioEntry]]) -> TypeAdapter[Any]:
    """A validator for one entry: the union of the registered options models, discriminated on mode."""
    models = tuple(modes.values())
    if len(models) == 1:
        return TypeAdapter(models[0])
    union = Union[models]  # type: ignore[valid-type]  # noqa: UP007 - built at run time from the registry
    return TypeAdapter(Annotated[union, Field(discriminator="mode")])


def scenario_json_schema(modes: Mapping[str, type[ScenarioEntry]]) -> dict[str, Any]:
    """JSON Schema of a scenario file (a list of entries), for editors: generated from the options models
    the loader validates with, ``matrix`` included (``SCENARIO_SCHEMA_FILE`` is it for the built-in modes)."""
    # By mode name: the registry's order is the order modules were imported in, which differs by entry point.
    item = entry_adapter(dict(sorted(modes.items()))).json_schema(by_alias=True)
    defs = item.pop("$defs", {})
    block = defs.get("PrometheusBlock")
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "perf-tests scenario file",
        "description": "A list of scenario entries (each names a mode, when it starts and how long it runs), or "
        "an object {\"prometheus\": ..., \"entries\": [...]} whose prometheus block applies to every entry "
        "without its own.",
        "anyOf": [
            {"type": "array", "items": item},
            {"type": "object", "additionalProperties": False, "required": ["entries"],
             "properties": {"entries": {"type": "array", "items": item},
                            **({"prometheus": {"$ref": "#/$defs/PrometheusBlock"}} if block else {})}},
        ],
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
            problems.append(f"entry {label}: {exc.line}")
            continue
        except ValueError as exc:
            problems.append(f"entry {label}: field 'matrix': {exc}")
            continue
        previous: ScenarioEntry | None = None
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
            if previous is not None:
                entry.follow(previous)  # combinations of one matrix (stacks deploy one after the other)
            previous = entry
            try:
                file_problems = entry.check_files(files)
            except (OSError, ValueError) as exc:  # a mode's own lookup of a name the file system rejects
                name = getattr(exc, "filename", None)
                what = f" {echo(str(name))}" if name else ""
                file_problems = [f"a file it names{what} cannot be looked up "
                                 f"({getattr(exc, 'strerror', None) or exc}); use a shorter, plain path"]
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
        raise ScenarioError(f"{where}: " + ("\n  " if len(problems) > 1 else "") + "\n  ".join(_bounded(problems)))
    return Scenario(path=path, raw=raw, entries=entries)


def _bounded(problems: list[str]) -> list[str]:
    """At most ``_MAX_PROBLEMS`` lines of at most ``_MAX_LINE`` characters: a message is read, not a dump."""
    lines = [p if len(p) <= _MAX_LINE else f"{p[:_MAX_LINE * 2 // 3]} ... {p[-_MAX_LINE // 3:]}"
             for p in problems[:_MAX_PROBLEMS]]
    if len(problems) > _MAX_PROBLEMS:
        lines.append(f"and {len(problems) - _MAX_PROBLEMS} more problems (fix these first)")
    return lines


MAX_SCENARIO_BYTES = 64 * 1024 * 1024
"""A scenario file larger than this is refused (it is read whole into memory)."""


def _read_json_list(path: Path) -> list[Any]:
    try:
        # Regular files only, read to a bound: a FIFO would hang the run and /dev/zero fill the memory.
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise ScenarioError(
                f"{path}: not a regular file (it is {_file_kind(mode)}); give a scenario file (a JSON list)"
            )
        with path.open("rb") as handle:
            data = handle.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if len(data) > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_SCENARIO_BYTES // (1024 * 1024)} MiB; a scenario file "
                            "is a short JSON list of entries")
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
    if isinstance(parsed, dict) and "entries" in parsed:
        return _object_form(parsed, path)
    if not isinstance(parsed, list):
        hint = ""
        if isinstance(parsed, dict):
            hint = (" (wrap the entry in [ ])" if "mode" in parsed else
                    " without 'entries' (the object form is {\"prometheus\": ..., \"entries\": [...]})")
        raise ScenarioError(f"{path}: expected a JSON list of scenario entries, got {_kind(parsed)}{hint}")
    return parsed


TOP_LEVEL_FIELDS = ("entries", "prometheus")
"""Keys of a scenario file in object form; ``prometheus`` applies to every entry without its own."""


def _object_form(parsed: dict[str, Any], path: Path) -> list[Any]:
    """The entries of ``{"prometheus": {...}, "entries": [...]}``, each given the top-level block unless it
    has one (so the entries as run, in ``summary.json``, say what was queried)."""
    unknown = sorted(str(key) for key in parsed if key not in TOP_LEVEL_FIELDS)
    if unknown:
        raise ScenarioError(f"{path}: top-level field {echo(unknown[0])} is not allowed; allowed: "
                            f"{', '.join(TOP_LEVEL_FIELDS)}")
    entries = parsed["entries"]
    if not isinstance(entries, list):
        raise ScenarioError(f"{path}: field 'entries' must be a list of scenario entries, got {_kind(entries)}")
    block = parsed.get("prometheus")
    if block is None:
        return entries
    if not isinstance(block, dict):
        raise ScenarioError(f"{path}: top-level field 'prometheus' must be an object "
                            "{\"step\": ..., \"queries\": {...}}, got " + _kind(block))
    return [{**item, "prometheus": block} if isinstance(item, dict) and "prometheus" not in item else item
            for item in entries]


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

    def __init__(self, field_name: str, message: str, line: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.line = line or f"field {field_name!r}: {message}"


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
    factors = check_matrix(matrix)
    combinations = list(itertools.product(*factors.values()))
    base = {k: v for k, v in item.items() if k not in ("matrix", "matrixStagger")}
    start = _matrix_time(item, "startTime")
    run = _matrix_time(item, "runTime")
    if run <= 0:
        raise _FieldError("runTime", f"runTime must be greater than 0 (got {echo_json(item['runTime'])})")
    step = run if stagger is None else _matrix_time(item, "matrixStagger")
    base_name = item.get("name") or f"{item.get('mode', 'ENTRY')}#{index}"
    expanded = []
    for number, combination in enumerate(combinations):
        sub = dict(base)
        for factor, value in zip(factors.keys(), combination, strict=True):
            block, dot, nested = factor.partition(".")
            if dot:  # "stack.replicas": a field of the entry's block (the block's other fields are kept)
                current = sub.get(block)
                sub[block] = {**(current if isinstance(current, dict) else {}), nested: value}
            else:
                sub[factor] = value
        sub["startTime"] = _seconds_text(start + number * step)
        sub["runTime"] = _seconds_text(run)
        sub["name"] = f"{base_name}[" + ",".join(
            f"{factor}={_factor_text(factor, value)}"
            for factor, value in zip(factors.keys(), combination, strict=True)
        ) + "]"
        if isinstance(base_name, str) and len(sub["name"].strip()) > MAX_NAME_LENGTH:
            raise ValueError(
                f"the expanded entry names (name and factor values, e.g. {echo(sub['name'])}) would be longer "
                f"than {MAX_NAME_LENGTH} characters; give a shorter name or shorter values"
            )
        expanded.append(sub)
    return expanded


def _factor_text(factor: str, value: Any) -> str:
    """A factor's value in an expanded entry's name; a nested factor's list of flags reads as a command line."""
    if "." in factor and isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return " ".join(str(v) for v in value)
    return str(value)


def _matrix_time(item: dict[str, Any], field_name: str) -> float:
    """Seconds of a time field of a matrix entry; ``_FieldError`` when it is missing or not a duration."""
    if field_name not in item:
        raise _FieldError(field_name, "is required", line=f"field {field_name!r} is required")
    value = item[field_name]
    try:
        return parse_duration(value, 60.0)
    except ValueError as exc:
        raise _FieldError(field_name, f"{exc} (got {echo_json(value)})") from None


def _describe(
    exc: ValidationError, modes: Mapping[str, type[ScenarioEntry]], item: dict[str, Any]
) -> list[str]:
    lines: list[str] = []
    scalar_branch_lines: dict[str, list[str]] = {}  # field -> "not a bool/int/..." lines of union branches
    fields_with_errors: set[str] = set()
    valid_modes = ", ".join(sorted(modes))
    factors = set(item.get("matrix") or {}) if isinstance(item.get("matrix"), dict) else set()
    factors |= {factor.partition(".")[0] for factor in factors}  # "stack.replicas" varies the field stack
    for err in exc.errors(include_url=False):
        kind = err["type"]
        loc = [str(part) for part in err["loc"]]
        branches = [part for part in loc[1:] if _UNION_BRANCH.match(part)]
        loc = loc[:1] + [part for part in loc[1:] if not _UNION_BRANCH.match(part)]
        if kind == "union_tag_not_found":
            lines.append(f"field 'mode' is missing; valid modes: {valid_modes}")
            continue
        if kind == "union_tag_invalid":
            lines.append(f"field 'mode': unknown mode {echo(item.get('mode'))}; valid modes: {valid_modes}")
            continue
        if loc and loc[0] in modes and len(modes) > 1:
            loc = loc[1:]  # drop the union tag
        field_name = _short(".".join(loc)) if loc else "(entry)"
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
        # A registered secret (a value a validator recognised as one) is masked before the echo is cut.
        got = f" (got {echo_json(redact_data(shown), 80)})" if not isinstance(shown, dict) else ""
        message = str(err["msg"]).removeprefix("Value error, ")
        what = "matrix factor" if top in factors else "field"
        if kind in _BOUND_ERRORS and model is not None:
            message += _allowed_range(model, loc)
        line = f"{what} {field_name!r}: {message}{got}"
        if branches and branches[-1] in _SCALAR_BRANCHES and kind.endswith(("_type", "_parsing")):
            scalar_branch_lines.setdefault(field_name, []).append(line)
            continue
        fields_with_errors.add(field_name)
        lines.append(line)
    # "Input should be a valid boolean" for {"runs": ...} says nothing when the object's own error is shown.
    for field_name, branch_lines in scalar_branch_lines.items():
        if not any(shown == field_name or shown.startswith(field_name + ".") for shown in fields_with_errors):
            lines.extend(dict.fromkeys(branch_lines))
    return lines


_BOUND_ERRORS = {"less_than", "less_than_equal", "greater_than", "greater_than_equal"}


def _allowed_range(model: type[BaseModel], loc: Sequence[str]) -> str:
    """``; allowed: 0 < x <= 100000`` for the field at ``loc`` (by alias), or '' when not both ends are known."""
    import annotated_types

    annotation: Any = model
    metadata: list[Any] = []
    for part in loc:
        annotation, extra = _unwrap(annotation)
        metadata = extra
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found = next((info for name, info in annotation.model_fields.items()
                          if part in (name, info.alias)), None)  # fmt: skip
            if found is None:
                return ""
            annotation, metadata = found.annotation, list(found.metadata)
        elif get_origin(annotation) in (list, dict):
            annotation = get_args(annotation)[-1]  # an index or a key: the items' type
        else:
            return ""
    annotation, extra = _unwrap(annotation)
    metadata = metadata + extra
    low = high = None
    for m in metadata:
        if isinstance(m, annotated_types.Ge | annotated_types.Gt) and low is None:
            low = ("<=", m.ge) if isinstance(m, annotated_types.Ge) else ("<", m.gt)
        if isinstance(m, annotated_types.Le | annotated_types.Lt) and high is None:
            high = ("<=", m.le) if isinstance(m, annotated_types.Le) else ("<", m.lt)
    if low is None or high is None:
        return ""
    return f"; allowed: {_number(low[1])} {low[0]} {loc[-1]} {high[0]} {_number(high[1])}"


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """``annotation`` without ``Optional`` and ``Annotated``, and the metadata ``Annotated`` carried."""
    metadata: list[Any] = []
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata += [m for item in extra for m in (getattr(item, "metadata", None) or [item])]
            continue
        arguments = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, UnionType):
            models = [a for a in arguments if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(arguments) == 1 or models:  # Optional[X], or the object branch of e.g. SeedPlan | bool
                annotation = models[0] if models else arguments[0]
                continue
        return annotation, metadata


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        value = int(value)
    return str(value) if isinstance(value, int) else f"{value:g}"


def _short(text: str) -> str:
    """A field name as echoed: an unknown key can be any length."""
    return text if len(text) <= _MAX_LABEL else f"{text[:_MAX_LABEL]}... ({len(text)} characters)"


def _aliases(model: type[ScenarioEntry]) -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        if info.exclude:  # resolved paths and matrix/matrixStagger (listed in the docs, not per mode)
            continue
        names.append(info.alias or to_camel(name))
    return [*names, *model.extra_field_aliases()]


def entries_json(entries: Sequence[ScenarioEntry]) -> list[dict[str, Any]]:
    """The entries as run, in scenario-file form (camelCase, times in seconds as strings)."""
    out = []
    for entry in entries:
        data = entry.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["startTime"] = _seconds_text(entry.start_time)
        data["runTime"] = _seconds_text(entry.run_time)
        out.append(data)
    return out
