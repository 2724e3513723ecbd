"""The one function that configures logging for a run: console, rotating text log, rotating JSON log."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from perf_tests.config.settings import LoggingSettings
from perf_tests.logger.formatters import JsonLinesFormatter, console_formatter
from perf_tests.logger.redaction import SecretRedactingFilter

__all__ = ["EVENTS_LOGGER", "JSON_LOG_NAME", "TEXT_LOG_NAME", "configure_logging", "reset_logging"]

TEXT_LOG_NAME = "perf.log"
JSON_LOG_NAME = "perf.log.jsonl"
EVENTS_LOGGER = "perf_tests.events"  # per-operation records: files only, errors also on the console
_MARK = "_perf_tests_handler"


class _ConsoleEventFilter(logging.Filter):
    """Keeps routine per-operation records off the console; their warnings and errors still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(EVENTS_LOGGER) or record.levelno >= logging.WARNING


def reset_logging() -> None:
    """Remove the handlers a previous ``configure_logging`` call installed (closing their files)."""
    root = logging.getLogger("perf_tests")
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()


def configure_logging(settings: LoggingSettings, log_dir: Path | None, console: bool = True) -> None:
    """Send the framework's logs to the console (colour) and, with ``log_dir``, to rotating files."""
    reset_logging()
    root = logging.getLogger("perf_tests")
    root.setLevel(logging.DEBUG)
    root.propagate = False
    redacting = SecretRedactingFilter()
    handlers: list[logging.Handler] = []
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(settings.log_level)
        stream.setFormatter(console_formatter(color=not settings.no_color and sys.stderr.isatty()))
        stream.addFilter(_ConsoleEventFilter())
        handlers.append(stream)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        file_level = min(logging.INFO, logging.getLevelNamesMapping()[settings.log_level])
        text = RotatingFileHandler(
            log_dir / TEXT_LOG_NAME,
            maxBytes=settings.log_max_bytes,
            backupCount=settings.log_backup_count,
            encoding="utf-8",
        )
        text.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"))
        as_json = RotatingFileHandler(
            log_dir / JSON_LOG_NAME,
            maxBytes=settings.log_max_bytes,
            backupCount=settings.log_backup_count,
            encoding="utf-8",
        )
        as_json.setFormatter(JsonLinesFormatter())
        file_handlers: tuple[logging.Handler, ...] = (text, as_json)
        for handler in file_handlers:
            handler.setLevel(file_level)
            handlers.append(handler)
    for handler in handlers:
        handler.addFilter(redacting)
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    # Third-party loggers (kfp, urllib3, aiohttp) stay quiet unless debugging.
    for noisy in ("kfp", "urllib3", "kubernetes", "aiohttp", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING)
