"""Durations: minutes (fractions allowed) or unit strings, always held in seconds."""

import math

import pytest
from pydantic import BaseModel, ValidationError

from perf_tests.models.durations import Minutes, Seconds, parse_duration

MINUTE = 60.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (1, 60.0),
        (2.5, 150.0),
        (0.25, 15.0),
        ("1.5", 90.0),
        ("0", 0.0),
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("2.5s", 2.5),
        (" 2 m ", 120.0),
        ("10M", 600.0),
        ("1H", 3600.0),
    ],
)
def test_minutes_and_duration_strings_become_seconds(value, seconds):
    assert parse_duration(value, MINUTE) == pytest.approx(seconds)


def test_bare_numbers_use_the_bare_unit():
    assert parse_duration(3, 1.0) == 3.0
    assert parse_duration("3", 1.0) == 3.0
    assert parse_duration("3s", 1.0) == 3.0
    assert parse_duration("3m", 1.0) == 180.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "cannot be negative"),
        (-0.5, "cannot be negative"),
        ("-5", "is not a duration"),
        ("-5s", "is not a duration"),
        ("", "is not a duration"),
        ("   ", "is not a duration"),
        ("abc", "is not a duration"),
        ("10 minutes", "is not a duration"),
        ("5sm", "is not a duration"),
        ("1e3", "is not a duration"),
        ("1d", "is not a duration"),
        (True, "not true/false"),
        (False, "not true/false"),
        (None, "expected a number of minutes"),
        ([1], "expected a number of minutes"),
        ({"minutes": 1}, "expected a number of minutes"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        (-math.inf, "finite"),
        (1e308, "finite"),  # times 60 overflows to inf
        (7 * 24 * 60 + 1, "longer than 7 days"),
        ("169h", "longer than 7 days"),
        ("99999999999999999999h", "longer than 7 days"),
    ],
)
def test_invalid_durations_say_what_is_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(value, MINUTE)


def test_a_week_is_the_longest_duration():
    assert parse_duration(7 * 24 * 60, MINUTE) == 7 * 24 * 3600.0
    assert parse_duration("168h", MINUTE) == 7 * 24 * 3600.0


def test_error_for_a_bad_string_shows_the_value_and_examples():
    with pytest.raises(ValueError, match=r"'ten' is not a duration; use minutes \(2\.5\) or a string like '90s'"):
        parse_duration("ten", MINUTE)


def test_an_integer_too_large_for_a_float_is_a_value_error():
    # float(10**400) raises OverflowError, which pydantic would not turn into a validation error
    with pytest.raises(ValueError, match="longer than 7 days"):
        parse_duration(10**400, MINUTE)


class _Model(BaseModel):
    minutes: Minutes
    seconds: Seconds = 0.0


def test_annotated_types_validate_in_models():
    model = _Model(minutes="90s", seconds="2m")
    assert model.minutes == 90.0
    assert model.seconds == 120.0
    assert _Model(minutes=1.5, seconds=1.5).model_dump() == {"minutes": 90.0, "seconds": 1.5}


def test_annotated_types_report_errors_as_validation_errors():
    with pytest.raises(ValidationError, match="cannot be negative"):
        _Model(minutes=-1)


def test_json_schema_accepts_numbers_and_unit_strings():
    schema = _Model.model_json_schema()["properties"]["minutes"]
    kinds = {option["type"] for option in schema["anyOf"]}
    assert kinds == {"number", "string"}
    assert "minutes" in schema["description"]
