"""Cron specs as robfig/cron v1.2.0 ``cron.Parse`` (KFP's pin) reads them, and Go durations for ``@every``.

Expected values follow ``parser.go`` / ``spec.go`` / ``constantdelay.go`` at tag v1.2.0.
"""

from __future__ import annotations

import pytest

from perf_tests.server.cron import CronSchedule, parse_duration
from perf_tests.server.timestamps import format_ts, parse_ts


def next_fire(spec: str, after: str) -> str:
    moment = CronSchedule.parse(spec).next_after(parse_ts(after))
    assert moment is not None
    return format_ts(moment)


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ("0 * * * * *", "2024-05-01T12:00:30Z", "2024-05-01T12:01:00Z"),
        ("* * * * * *", "2024-05-01T12:00:30.500Z", "2024-05-01T12:00:31Z"),
        ("*/2 * * * * *", "2024-05-01T12:00:31Z", "2024-05-01T12:00:32Z"),
        ("0 0 9 ? * 2-6", "2024-05-04T10:00:00Z", "2024-05-07T09:00:00Z"),  # Sat → Tue (2 = TUE)
        ("0 30 8 1 * *", "2024-05-01T09:00:00Z", "2024-06-01T08:30:00Z"),
        ("0 0 0 29 FEB *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 0 12 * * SUN", "2024-05-01T00:00:00Z", "2024-05-05T12:00:00Z"),
        ("0 0 12 * * sun", "2024-05-01T00:00:00Z", "2024-05-05T12:00:00Z"),  # names in any case
        ("15,45 * * * * *", "2024-05-01T12:00:20Z", "2024-05-01T12:00:45Z"),
        ("0 0-10/5 * * * *", "2024-05-01T12:06:00Z", "2024-05-01T12:10:00Z"),
        # 5 fields are "second minute hour dom month" (DowOptional): every 5 SECONDS, not minutes.
        ("*/5 * * * *", "2024-05-01T12:01:00Z", "2024-05-01T12:01:05Z"),
        ("0 */5 * * *", "2024-05-01T12:01:00Z", "2024-05-01T12:05:00Z"),
        ("1,,2 * * * * *", "2024-05-01T12:00:01Z", "2024-05-01T12:00:02Z"),  # FieldsFunc drops empty items
        # getRange sets the star bit for "*/2" too, so day-of-month AND day-of-week (Thu 2 May is even).
        ("0 0 0 */2 * THU", "2024-05-01T00:00:00Z", "2024-05-09T00:00:00Z"),
        ("0 0 1 1 * MON", "2024-01-02T00:00:00Z", "2024-01-08T01:00:00Z"),  # day OR weekday when both set
        ("@hourly", "2024-05-01T12:00:00Z", "2024-05-01T13:00:00Z"),
        ("@daily", "2024-05-01T12:00:00Z", "2024-05-02T00:00:00Z"),
        ("@every 1m30s", "2024-05-01T12:00:00Z", "2024-05-01T12:01:30Z"),
        ("@every 1500ms", "2024-05-01T12:00:00.700Z", "2024-05-01T12:00:01Z"),  # Every(): whole seconds
        ("@every 0s", "2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z"),  # at least 1 s
    ],
)
def test_next_fire_time(spec: str, after: str, expected: str) -> None:
    assert next_fire(spec, after) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "* * *",
        "60 * * * * *",
        "* * 24 * * *",
        "* * * 0 * *",
        "* * * * 13 *",
        "*/0 * * * * *",
        "a * * * * *",
        "5-1 * * * * *",
        "0 0 12 * * 7",  # day-of-week is 0-6 in v1.2.0
        "* * * * * * *",
        "@Daily",  # descriptors are case-sensitive
        "@every",
        "@every soon",
    ],
)
def test_invalid_specs(spec: str) -> None:
    with pytest.raises(ValueError, match=r"cron|duration"):
        CronSchedule.parse(spec)


def test_impossible_date_gives_none() -> None:
    assert CronSchedule.parse("0 0 0 31 2 *").next_after(parse_ts("2024-01-01T00:00:00Z")) is None


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    for bad in ("", "5", "5x", "-1s", "1s junk"):
        with pytest.raises(ValueError, match="invalid duration"):
            parse_duration(bad)
