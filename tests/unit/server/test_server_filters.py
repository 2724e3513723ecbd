"""Parsing the KFP filter JSON and compiling it to SQL that SQLite runs."""

from __future__ import annotations

import json
import sqlite3

import pytest

from perf_tests.server.errors import ApiError
from perf_tests.server.filters import (
    FieldKind,
    FilterField,
    Operation,
    Predicate,
    canonical_filter,
    compile_filter,
    parse_filter,
)
from perf_tests.server.timestamps import parse_ts

FIELDS = {
    "name": FilterField("name"),
    "created_at": FilterField("created_at", FieldKind.TIMESTAMP),
    "size": FilterField("size", FieldKind.INT),
    "state": FilterField("state", normalize=str.upper, volatile=True),
}
ROWS = [
    ("alpha", parse_ts("2024-01-01T00:00:00Z"), 1, "RUNNING"),
    ("beta", parse_ts("2024-01-02T00:00:00Z"), 2, "SUCCEEDED"),
    ("alpha_beta", parse_ts("2024-01-03T00:00:00Z"), 3, "FAILED"),
    ("gamma%", parse_ts("2024-01-04T00:00:00Z"), 4, "SUCCEEDED"),
]


def select(text: str) -> list[str]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (name TEXT, created_at REAL, size INTEGER, state TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", ROWS)
    params: dict[str, object] = {}
    clauses, _ = compile_filter(parse_filter(text), FIELDS, params, "things")
    where = " AND ".join(clauses) or "1"
    return [row[0] for row in conn.execute(f"SELECT name FROM t WHERE {where} ORDER BY name", params)]


def predicate(**fields: object) -> str:
    return json.dumps({"predicates": [fields]})


def test_empty_filters_mean_no_predicates() -> None:
    assert parse_filter(None) == []
    assert parse_filter("") == []
    assert parse_filter("  ") == []
    assert parse_filter("{}") == []
    assert parse_filter('{"predicates": null}') == []


def test_operations_as_numbers_or_names_and_both_spellings() -> None:
    snake = parse_filter(predicate(key="name", operation=1, string_value="x"))
    camel = parse_filter(predicate(key="name", operation="EQUALS", stringValue="x"))
    assert snake == camel == [Predicate("name", Operation.EQUALS, "x")]
    assert parse_filter(predicate(key="size", operation="3", int_value=2))[0].operation is Operation.GREATER_THAN
    assert parse_filter(predicate(key="size", operation=1, longValue="7"))[0].value == 7


def test_double_encoded_filter_is_accepted() -> None:
    from urllib.parse import quote

    assert parse_filter(quote(predicate(key="name", operation=1, string_value="x"))) == [
        Predicate("name", Operation.EQUALS, "x")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (predicate(key="name", operation=1, string_value="alpha"), ["alpha"]),
        (predicate(key="name", operation=2, string_value="alpha"), ["alpha_beta", "beta", "gamma%"]),
        (predicate(key="size", operation=3, int_value=2), ["alpha_beta", "gamma%"]),
        (predicate(key="size", operation=5, long_value="2"), ["alpha_beta", "beta", "gamma%"]),
        (predicate(key="size", operation=6, int_value=2), ["alpha"]),
        (predicate(key="size", operation=7, int_value=2), ["alpha", "beta"]),
        (predicate(key="name", operation=8, string_values={"values": ["beta", "gamma%"]}), ["beta", "gamma%"]),
        (predicate(key="size", operation=8, int_values={"values": [1, 4]}), ["alpha", "gamma%"]),
        (predicate(key="name", operation=8, stringValues={"values": []}), []),
        (predicate(key="name", operation=9, string_value="beta"), ["alpha_beta", "beta"]),
        # Filter.AddToSelect passes the value into LIKE unescaped: "_" and "%" are wildcards, as in MySQL.
        (predicate(key="name", operation=9, string_value="_"), ["alpha", "alpha_beta", "beta", "gamma%"]),
        (predicate(key="name", operation=9, string_value="a_b"), ["alpha_beta"]),
        (predicate(key="name", operation=9, string_value="%"), ["alpha", "alpha_beta", "beta", "gamma%"]),
        (predicate(key="name", operation=9, string_value="a%a"), ["alpha", "alpha_beta", "gamma%"]),
        (predicate(key="name", operation=9, string_value="a\\_b"), ["alpha_beta"]),  # MySQL's escape character
        (predicate(key="name", operation=9, string_value="a\\%"), ["gamma%"]),
        # String comparisons are case-insensitive, as under MySQL's default _ci collation (assumed).
        (predicate(key="name", operation=1, string_value="ALPHA"), ["alpha"]),
        (predicate(key="name", operation=9, string_value="BET"), ["alpha_beta", "beta"]),
        (predicate(key="name", operation=8, string_values={"values": ["Beta"]}), ["beta"]),
        (predicate(key="created_at", operation=3, timestamp_value="2024-01-02T00:00:00Z"), ["alpha_beta", "gamma%"]),
        (predicate(key="created_at", operation=6, string_value="2024-01-02T00:00:00+00:00"), ["alpha"]),
        (predicate(key="created_at", operation=7, long_value=str(int(ROWS[1][1]))), ["alpha", "beta"]),
        (predicate(key="state", operation=1, string_value="succeeded"), ["beta", "gamma%"]),
    ],
)
def test_compiled_filters_select_the_right_rows(text: str, expected: list[str]) -> None:
    assert select(text) == expected


def test_predicates_are_anded() -> None:
    text = json.dumps(
        {
            "predicates": [
                {"key": "name", "operation": 9, "string_value": "alpha"},
                {"key": "size", "operation": 3, "int_value": 1},
            ]
        }
    )
    assert select(text) == ["alpha_beta"]


def test_volatile_fields_are_reported() -> None:
    params: dict[str, object] = {}
    _, volatile = compile_filter(
        parse_filter(predicate(key="name", operation=1, string_value="a")), FIELDS, params, "t"
    )
    assert volatile is False
    _, volatile = compile_filter(
        parse_filter(predicate(key="state", operation=1, string_value="a")), FIELDS, params, "t"
    )
    assert volatile is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "failed to parse"),
        ("[1]", "JSON object"),
        ('{"predicates": [], "extra": 1}', "unknown field"),
        ('{"predicates": "x"}', "must be a list"),
        ('{"predicates": [1]}', "JSON object"),
        (predicate(operation=1, string_value="x"), "key"),
        (predicate(key="name", string_value="x"), "operation"),
        (predicate(key="name", operation=0, string_value="x"), "operation"),
        (predicate(key="name", operation=True, string_value="x"), "operation"),
        (predicate(key="name", operation=1), "exactly one value"),
        (predicate(key="name", operation=1, string_value="x", int_value=1), "exactly one value"),
        (predicate(key="name", operation=8, string_value="x"), "IN"),
        (predicate(key="name", operation=1, string_values={"values": ["x"]}), "only IN"),
        (predicate(key="name", operation=8, string_values=["x"]), "values"),
        (predicate(key="name", operation=9, int_value=3), "IS_SUBSTRING"),
        (predicate(key="name", operation=1, int_value=1.5), "integer"),
        (predicate(key="name", operation=1, timestamp_value="noon"), "timestamp"),
    ],
)
def test_invalid_filters_are_invalid_argument(text: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_filter(text)
    assert caught.value.http_status == 400
    assert message.lower() in caught.value.message.lower()


def test_unknown_key_and_wrong_kind_fail_at_compile() -> None:
    with pytest.raises(ApiError, match="unrecognized field 'color' of things; supported keys: created_at, name"):
        compile_filter(parse_filter(predicate(key="color", operation=1, string_value="x")), FIELDS, {}, "things")
    with pytest.raises(ApiError, match="timestamp"):
        compile_filter(parse_filter(predicate(key="created_at", operation=1, string_value="x")), FIELDS, {}, "t")
    with pytest.raises(ApiError, match="IS_SUBSTRING"):
        compile_filter(parse_filter(predicate(key="size", operation=9, string_value="1")), FIELDS, {}, "t")


def test_canonical_filter_ignores_spelling() -> None:
    a = parse_filter(predicate(key="name", operation="EQUALS", stringValue="x"))
    b = parse_filter(predicate(key="name", operation=1, string_value="x"))
    assert canonical_filter(a) == canonical_filter(b)
    assert canonical_filter([]) == "[]"
