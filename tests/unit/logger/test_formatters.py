"""Formatters: one JSON object per record, and the console line with or without colour."""

import json
import logging
import sys

from perf_tests.logger.formatters import EVENT_FIELDS, JsonLinesFormatter, console_formatter


def record(msg="hello %s", args=("world",), level=logging.INFO, exc_info=None, **extra):
    item = logging.LogRecord("perf_tests.x", level, __file__, 1, msg, args, exc_info)
    item.created = 1_700_000_000.25
    for key, value in extra.items():
        setattr(item, key, value)
    return item


def test_json_line_has_time_level_logger_message_thread():
    line = json.loads(JsonLinesFormatter().format(record()))
    assert line == {
        "time": "2023-11-14T22:13:20.250+00:00",
        "level": "INFO",
        "logger": "perf_tests.x",
        "message": "hello world",
        "thread": "MainThread",
    }


def test_json_line_carries_the_event_fields_present():
    line = json.loads(JsonLinesFormatter().format(record(scenario="s", duration_ms=1.5, outcome="ok", other="x")))
    assert {key: line[key] for key in ("scenario", "duration_ms", "outcome")} == {
        "scenario": "s", "duration_ms": 1.5, "outcome": "ok"}
    assert "other" not in line  # only the documented event fields
    assert set(EVENT_FIELDS) >= {"scenario", "mode", "operation", "duration_ms", "outcome", "error_type"}


def test_json_line_is_one_line_even_with_newlines_and_exceptions():
    try:
        raise KeyError("k")
    except KeyError:
        item = record("first\nsecond", args=None, exc_info=sys.exc_info(), attrs=object())
    text = JsonLinesFormatter().format(item)
    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "first\nsecond"
    assert line["exception"].endswith("KeyError: 'k'")


def test_json_line_serialises_odd_values():
    line = json.loads(JsonLinesFormatter().format(record(scenario=object.__new__(object))))
    assert line["scenario"].startswith("<object object")


def test_plain_console_format():
    text = console_formatter(color=False).format(record(level=logging.WARNING))
    assert "\x1b[" not in text
    assert text.endswith("WARNING hello world")


def test_colour_console_format():
    text = console_formatter(color=True).format(record(level=logging.ERROR))
    assert "\x1b[31m" in text  # red
    assert "hello world" in text
