"""List requests as the KFP API server pages them: ``sort_by``, ``filter``, ``page_size``, ``page_token``.

Paging is keyset paging like the real server's: the ``next_page_token`` is base64 JSON holding the sort
field and the sort value and primary key of the first row of the next page, plus the filter, so a page
costs one index range scan however deep it is. A page size of 0 means 20; more than 200 means 200.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perf_tests.server.errors import ApiError
from perf_tests.server.filters import FilterField, canonical_filter, compile_filter, parse_filter

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "ListPlan", "Listable", "encode_page_token", "plan_list"]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Listable:
    """What one resource exposes to listing: its table, key, sortable and filterable fields."""

    resource: str
    table: str
    key: str
    columns: str
    sort_fields: Mapping[str, str]
    filter_fields: Mapping[str, FilterField]
    default_sort: str = "created_at"
    sort_prefixes: Mapping[str, str] = field(default_factory=dict)
    """Sort keys by prefix (runs' ``metric:<name>``) and the SQL they sort by."""

    def sort_expr(self, key: str) -> str | None:
        """The SQL a sort key sorts by, or None when the key cannot be sorted on."""
        expr = self.sort_fields.get(key)
        if expr is not None:
            return expr
        for prefix, prefixed in self.sort_prefixes.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                return prefixed
        return None


@dataclass
class ListPlan:
    """A validated list request, ready for the store: WHERE clauses, bind values and ordering."""

    listable: Listable
    page_size: int
    sort_key: str
    sort_expr: str
    desc: bool
    filter_text: str
    raw_filter: str = ""
    where: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    count_where: list[str] = field(default_factory=list)
    scope: list[tuple[str, Any]] = field(default_factory=list)
    filtered: bool = False
    volatile: bool = False
    columns: str = ""
    """Columns to select instead of ``listable.columns`` (the key column must stay first)."""

    def select_sql(self) -> str:
        """The page query: one row more than the page, so the extra row seeds the next token."""
        order = "DESC" if self.desc else "ASC"
        where = f" WHERE {' AND '.join(self.where)}" if self.where else ""
        t = self.listable
        return (
            f"SELECT {self.columns or t.columns}, {self.sort_expr} FROM {t.table}{where} "
            f"ORDER BY {self.sort_expr} {order}, {t.key} {order} LIMIT {self.page_size + 1}"
        )

    def count_sql(self) -> str:
        """The ``total_size`` query: the same scope and filter, without the page position."""
        where = f" WHERE {' AND '.join(self.count_where)}" if self.count_where else ""
        return f"SELECT count(*) FROM {self.listable.table}{where}"

    def next_token(self, sort_value: Any, key_value: str) -> str:
        """The ``next_page_token`` for a page whose first row has these sort and key values."""
        return encode_page_token(
            {
                "m": self.listable.resource,
                "s": self.sort_key,
                "d": self.desc,
                "f": self.filter_text,
                "q": self.raw_filter,
                "sv": sort_value,
                "kv": key_value,
            }
        )


_TOKEN_JSON = json.JSONEncoder(separators=(",", ":"))
"""One encoder for every token (``json.dumps`` with options builds a new one per call)."""


def encode_page_token(payload: Mapping[str, Any]) -> str:
    """Encode a token payload the way the KFP server does (standard base64 of JSON)."""
    return base64.b64encode(_TOKEN_JSON.encode(payload).encode()).decode()


def _decode_page_token(token: str, listable: Listable) -> dict[str, Any]:
    try:
        payload = json.loads(base64.b64decode(token.encode(), validate=True))
    except (binascii.Error, ValueError, UnicodeError):
        raise ApiError.invalid(f"Invalid page token {token!r}: not a token this server issued") from None
    expected = {"m": str, "s": str, "d": bool, "f": str, "kv": str}
    if not isinstance(payload, dict) or any(not isinstance(payload.get(k), t) for k, t in expected.items()):
        raise ApiError.invalid(f"Invalid page token {token!r}: not a token this server issued")
    if payload["m"] != listable.resource:
        raise ApiError.invalid(f"Invalid page token: it was issued for {payload['m']}, not {listable.resource}")
    if (
        listable.sort_expr(payload["s"]) is None
        or not isinstance(payload.get("sv"), str | int | float)
        or isinstance(payload.get("sv"), bool)
        or not isinstance(payload.get("q", ""), str)
    ):
        raise ApiError.invalid(f"Invalid page token {token!r}: not a token this server issued")
    return payload


def _parse_sort_by(sort_by: str, listable: Listable) -> tuple[str, bool]:
    words = sort_by.lower().split()
    if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
        raise ApiError.invalid(
            f'Received invalid sort by format "{sort_by}". Supported format: "field_name", '
            '"field_name desc", or "field_name asc"'
        )
    if not words:
        return listable.default_sort, False
    if listable.sort_expr(words[0]) is None:
        supported = ", ".join(sorted(listable.sort_fields) + [f"{p}<name>" for p in listable.sort_prefixes])
        raise ApiError.invalid(f"Invalid sorting field: {words[0]!r} on {listable.resource}; supported: {supported}")
    return words[0], len(words) == 2 and words[1] == "desc"


def parse_page_size(raw: str | None) -> int:
    """``page_size`` as the server reads it: missing or 0 → 20, capped at 200, negative is an error."""
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise ApiError.invalid(f"page_size must be an integer, got {raw!r}") from None
    if size < 0:
        raise ApiError.invalid(f"The page size should be greater than 0. Got {size}")
    if size == 0:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def plan_list(
    listable: Listable,
    *,
    page_token: str | None,
    page_size: str | None,
    sort_by: str | None,
    filter_text: str | None,
    scope: Mapping[str, Any] | None = None,
) -> ListPlan:
    """Validate a list request and plan its queries.

    ``scope`` holds equality conditions the endpoint adds (``experiment_id``, ``namespace``,
    ``pipeline_id``); empty values are ignored, as the API treats them as unset.

    Raises:
        ApiError: INVALID_ARGUMENT for a bad page size, sort, filter or page token, or a token whose
            sort or filter differs from the ones given with it.
    """
    size = parse_page_size(page_size)
    predicates = parse_filter(filter_text)
    canonical = canonical_filter(predicates)
    sort_key, desc = _parse_sort_by(sort_by or "", listable)
    token: dict[str, Any] | None = None
    if page_token:
        token = _decode_page_token(page_token, listable)
        if (sort_by and (sort_key, desc) != (token["s"], token["d"])) or (filter_text and canonical != token["f"]):
            raise ApiError.invalid(
                "page token does not match the supplied sort by and/or filtering criteria. Either specify the "
                "same criteria or leave the latter empty if page token is specified."
            )
        sort_key, desc = token["s"], token["d"]
        if not filter_text:
            predicates = parse_filter(token.get("q") or None)
            canonical = canonical_filter(predicates)
    plan = ListPlan(
        listable=listable,
        page_size=size,
        sort_key=sort_key,
        sort_expr=listable.sort_expr(sort_key) or "created_at",
        desc=desc,
        filter_text=canonical,
        raw_filter=(filter_text or "") if not token else (filter_text or token.get("q") or ""),
    )
    for column, value in (scope or {}).items():
        if value is None or value == "":
            continue
        name = f"s_{column}"
        plan.params[name] = value
        plan.where.append(f"{column} = :{name}")
        if isinstance(value, str):
            plan.where.append(f"{column} != ''")  # implied, but lets SQLite use partial indexes
        plan.scope.append((column, value))
    plan.count_where = list(plan.where)
    clauses, plan.volatile = compile_filter(predicates, listable.filter_fields, plan.params, listable.resource)
    count_clauses, _ = compile_filter(
        predicates, listable.filter_fields, plan.params, listable.resource, for_count=True
    )
    plan.where.extend(clauses)
    plan.count_where.extend(count_clauses)
    plan.filtered = bool(clauses)
    if token is not None:
        plan.params["t_sv"] = token["sv"]
        plan.params["t_kv"] = token["kv"]
        op = "<=" if desc else ">="
        plan.where.append(f"({plan.sort_expr}, {listable.key}) {op} (:t_sv, :t_kv)")
    return plan
