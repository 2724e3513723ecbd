"""Formatters: colour console lines (colorlog) and one JSON object per line for the JSON log."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import colorlog

__all__ = ["EVENT_FIELDS", "JsonLinesFormatter", "console_formatter"]

# Extra attributes a log call may carry (``logger.info(..., extra={"scenario": ...})``).
EVENT_FIELDS = ("scenario", "mode", "operation", "duration_ms", "outcome", "error_type")


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the event fields present."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        for name in EVENT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def console_formatter(color: bool) -> logging.Formatter:
    """Console format: time, level and message, coloured by level unless ``color`` is false."""
    fmt = "%(asctime)s %(levelname)-7s %(message)s"
    if not color:
        return logging.Formatter(fmt, datefmt="%H:%M:%S")
    return colorlog.ColoredFormatter(
        "%(asctime)s %(log_color)s%(levelname)-7s%(reset)s %(message)s",
        datefmt="%H:%M:%S",
        log_colors={
            "DEBUG": "cyan",
            "INFO": "green",
            "WARNING": "yellow",
            "ERROR": "red",
            "CRITICAL": "bold_red",
        },
    )
