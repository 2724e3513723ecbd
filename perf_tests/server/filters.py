"""The KFP ``filter`` query parameter: a URL-encoded, JSON-serialised ``Filter`` proto, compiled to SQL.

``{"predicates": [{"operation": 1, "key": "display_name", "string_value": "x"}]}``. Operations are
accepted as numbers or names (``"EQUALS"``); values in snake_case or camelCase (``string_value`` /
``stringValue``, ``int_value``, ``long_value``, ``timestamp_value``, and ``string_values`` /
``int_values`` / ``long_values`` with ``{"values": [...]}`` for ``IN``). Anything else is an
INVALID_ARGUMENT error naming what was wrong, never a server error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any
from urllib.parse import unquote

from perf_tests.server.errors import ApiError
from perf_tests.server.timestamps import parse_ts

__all__ = [
    "FieldKind",
    "FilterField",
    "Operation",
    "Predicate",
    "canonical_filter",
    "compile_filter",
    "parse_filter",
]


class Operation(IntEnum):
    """``Predicate.Operation`` of the KFP filter proto."""

    EQUALS = 1
    NOT_EQUALS = 2
    GREATER_THAN = 3
    GREATER_THAN_EQUALS = 5
    LESS_THAN = 6
    LESS_THAN_EQUALS = 7
    IN = 8
    IS_SUBSTRING = 9


class FieldKind(Enum):
    """How a filterable field compares: as text, as epoch seconds, or as an integer."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    INT = "int"


Scalar = str | int | float
Value = Scalar | tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class FilterField:
    """A filterable API key: the SQL expression it maps to and how its values compare.

    ``volatile`` marks expressions that depend on the current time (a run's ``state``), whose counts
    cannot be cached. ``normalize`` rewrites string values before comparison (``STORAGESTATE_ARCHIVED``
    → ``ARCHIVED``).
    """

    sql: str
    kind: FieldKind = FieldKind.STRING
    volatile: bool = False
    normalize: Callable[[str], str] | None = None
    compile: Callable[[Operation, Sequence[Scalar], bool], str | None] | None = None
    """Custom SQL for an operation, its values and whether it is for the count query (None falls back)."""
    collate: bool = True
    """Text compares case-insensitively (MySQL ``_ci``); ids and enum columns need not."""


@dataclass(frozen=True, slots=True)
class Predicate:
    """One parsed predicate; ``value`` is a tuple for ``IN``."""

    key: str
    operation: Operation
    value: Value


_SCALAR_KEYS: dict[str, str] = {
    "string_value": "string",
    "stringValue": "string",
    "int_value": "int",
    "intValue": "int",
    "long_value": "int",
    "longValue": "int",
    "timestamp_value": "timestamp",
    "timestampValue": "timestamp",
}
_LIST_KEYS: dict[str, str] = {
    "string_values": "string",
    "stringValues": "string",
    "int_values": "int",
    "intValues": "int",
    "long_values": "int",
    "longValues": "int",
}
_PREDICATE_KEYS = frozenset({"operation", "key"}) | _SCALAR_KEYS.keys() | _LIST_KEYS.keys()


def parse_filter(text: str | None) -> list[Predicate]:
    """Parse the ``filter`` query value; empty or missing means no predicates.

    Raises:
        ApiError: INVALID_ARGUMENT when the text is not a valid filter.
    """
    if text is None or not text.strip():
        return []
    raw = text.strip()
    if not raw.startswith("{"):
        # The API server URL-unescapes the value once more, so a double-encoded filter also works.
        raw = unquote(raw).strip()
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise ApiError.invalid(f"failed to parse valid filter from {text!r}: {exc}") from None
    if not isinstance(document, dict):
        raise ApiError.invalid(f"failed to parse valid filter from {text!r}: expected a JSON object")
    unknown = set(document) - {"predicates"}
    if unknown:
        raise ApiError.invalid(f"failed to parse valid filter: unknown field(s) {sorted(unknown)}")
    predicates = document.get("predicates", [])
    if predicates is None:
        predicates = []
    if not isinstance(predicates, list):
        raise ApiError.invalid("failed to parse valid filter: 'predicates' must be a list")
    return [_parse_predicate(item, index) for index, item in enumerate(predicates)]


def _parse_predicate(item: Any, index: int) -> Predicate:
    where = f"predicate {index}"
    if not isinstance(item, dict):
        raise ApiError.invalid(f"invalid filter: {where} must be a JSON object")
    unknown = set(item) - _PREDICATE_KEYS
    if unknown:
        raise ApiError.invalid(f"invalid filter: {where} has unknown field(s) {sorted(unknown)}")
    key = item.get("key")
    if not isinstance(key, str) or not key:
        raise ApiError.invalid(f"invalid filter: {where} needs a non-empty string 'key'")
    operation = _parse_operation(item.get("operation"), where)
    values = [(name, item[name]) for name in item if name in _SCALAR_KEYS or name in _LIST_KEYS]
    if len(values) != 1:
        raise ApiError.invalid(f"invalid filter: {where} ({key}) needs exactly one value field, e.g. 'string_value'")
    name, raw_value = values[0]
    value: Value
    if name in _LIST_KEYS:
        if not isinstance(raw_value, dict) or not isinstance(raw_value.get("values", []), list):
            raise ApiError.invalid(f"invalid filter: {where} '{name}' must be {{\"values\": [...]}}")
        value = tuple(_scalar(v, _LIST_KEYS[name], where) for v in raw_value.get("values", []))
        if operation is not Operation.IN:
            raise ApiError.invalid(f"invalid filter: {where} uses '{name}' but only IN takes a list")
    else:
        value = _scalar(raw_value, _SCALAR_KEYS[name], where)
        if operation is Operation.IN:
            raise ApiError.invalid(f"invalid filter: {where} uses IN, which needs '*_values' lists")
    if operation is Operation.IS_SUBSTRING and not isinstance(value, str):
        raise ApiError.invalid(f"invalid filter: {where} uses IS_SUBSTRING, which needs a string value")
    return Predicate(key=key, operation=operation, value=value)


def _parse_operation(raw: Any, where: str) -> Operation:
    if isinstance(raw, bool):
        raise ApiError.invalid(f"invalid filter: {where} has an invalid operation {raw!r}")
    if isinstance(raw, int):
        try:
            return Operation(raw)
        except ValueError:
            pass
    elif isinstance(raw, str):
        name = raw.strip().upper()
        if name.isdigit():
            return _parse_operation(int(name), where)
        if name in Operation.__members__:
            return Operation[name]
    names = ", ".join(f"{op.name}={op.value}" for op in Operation)
    raise ApiError.invalid(f"invalid filter: {where} has an invalid operation {raw!r}; expected one of {names}")


def _scalar(raw: Any, kind: str, where: str) -> Scalar:
    if kind == "string":
        if not isinstance(raw, str):
            raise ApiError.invalid(f"invalid filter: {where} expects a string value, got {raw!r}")
        return raw
    if kind == "int":
        # int64 travels as a JSON string in proto JSON; int32 as a number. Accept both.
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ApiError.invalid(f"invalid filter: {where} expects an integer value, got {raw!r}")
        try:
            return int(raw)
        except ValueError:
            raise ApiError.invalid(f"invalid filter: {where} expects an integer value, got {raw!r}") from None
    if not isinstance(raw, str):
        raise ApiError.invalid(f"invalid filter: {where} expects an RFC 3339 timestamp, got {raw!r}")
    try:
        return parse_ts(raw)
    except ValueError:
        raise ApiError.invalid(f"invalid filter: {where} expects an RFC 3339 timestamp, got {raw!r}") from None


def canonical_filter(predicates: Sequence[Predicate]) -> str:
    """A stable text for a parsed filter, to check a page token against the request's filter."""
    return json.dumps(
        [[p.key, int(p.operation), list(p.value) if isinstance(p.value, tuple) else p.value] for p in predicates],
        separators=(",", ":"),
    )


_SQL_OPERATORS: dict[Operation, str] = {
    Operation.EQUALS: "=",
    Operation.NOT_EQUALS: "!=",
    Operation.GREATER_THAN: ">",
    Operation.GREATER_THAN_EQUALS: ">=",
    Operation.LESS_THAN: "<",
    Operation.LESS_THAN_EQUALS: "<=",
}


def compile_filter(
    predicates: Sequence[Predicate],
    fields: Mapping[str, FilterField],
    params: dict[str, Any],
    resource: str,
    *,
    for_count: bool = False,
) -> tuple[list[str], bool]:
    """Compile predicates to SQL clauses (ANDed), adding bind values to ``params``.

    Returns the clauses and whether any depends on the current time (so its count must not be cached).
    ``for_count`` lets fields with custom SQL pick what suits a count rather than a sorted page.

    Raises:
        ApiError: INVALID_ARGUMENT for a key ``resource`` cannot be filtered on, or a value of the wrong
            kind for the key.
    """
    clauses: list[str] = []
    volatile = False
    for predicate in predicates:
        field = fields.get(predicate.key)
        if field is None:
            supported = ", ".join(sorted(fields))
            raise ApiError.invalid(
                f"no support for filtering on unrecognized field {predicate.key!r} of {resource}; "
                f"supported keys: {supported}"
            )
        volatile = volatile or field.volatile
        values = predicate.value if isinstance(predicate.value, tuple) else (predicate.value,)
        converted = [_convert(v, field, predicate.key) for v in values]
        custom = field.compile(predicate.operation, converted, for_count) if field.compile is not None else None
        if custom is not None:
            clauses.append(custom)
        elif predicate.operation is Operation.IN:
            if not converted:
                clauses.append("0")
                continue
            names = [_bind(params, v) for v in converted]
            clauses.append(f"{field.sql}{_collation(field)} IN ({', '.join(':' + n for n in names)})")
        elif predicate.operation is Operation.IS_SUBSTRING:
            if field.kind is not FieldKind.STRING:
                raise ApiError.invalid(f"invalid filter: IS_SUBSTRING needs a text key, {predicate.key!r} is not")
            # Filter.AddToSelect: squirrel.Like{key: "%v%"} with v as given, so "%" and "_" in it are LIKE
            # wildcards there too, and "\" escapes the next character as MySQL's default LIKE escape (a
            # trailing one escapes the closing "%" there as here). SQLite's LIKE is case-insensitive for
            # ASCII like MySQL's _ci collations.
            name = _bind(params, f"%{converted[0]}%")
            clauses.append(f"{field.sql} LIKE :{name} ESCAPE '\\'")
        else:
            name = _bind(params, converted[0])
            clauses.append(f"{field.sql}{_collation(field)} {_SQL_OPERATORS[predicate.operation]} :{name}")
    return clauses, volatile


def _collation(field: FilterField) -> str:
    return " COLLATE NOCASE" if field.kind is FieldKind.STRING and field.collate else ""


def _bind(params: dict[str, Any], value: Scalar) -> str:
    name = f"f{len(params)}"
    while name in params:
        name += "_"
    params[name] = value
    return name


def _convert(value: Scalar, field: FilterField, key: str) -> Scalar:
    if field.kind is FieldKind.STRING:
        text = value if isinstance(value, str) else str(value)
        return field.normalize(text) if field.normalize else text
    if field.kind is FieldKind.TIMESTAMP:
        if isinstance(value, str):
            try:
                return float(value) if _is_number(value) else parse_ts(value)
            except ValueError:
                raise ApiError.invalid(f"invalid filter: {key!r} needs a timestamp, got {value!r}") from None
        return float(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ApiError.invalid(f"invalid filter: {key!r} needs an integer, got {value!r}") from None
    return int(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
