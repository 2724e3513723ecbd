"""The one function that configures logging for a run: console, rotating text log, rotating JSON log.

A log file that cannot be written (a full disk) stops being written at its first failure and is reported
once through ``on_file_error``, instead of a "--- Logging error ---" traceback for every record.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

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


FileErrorCallback = Callable[[str, OSError], None]


class _StoppingFileHandler(RotatingFileHandler):
    """A rotating file handler that stops at its first write error and reports it once."""

    def __init__(self, filename: Path, on_error: FileErrorCallback | None, **kwargs: Any) -> None:
        super().__init__(filename, **kwargs)
        self._on_error = on_error
        self.failed: OSError | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed is None:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)
            return
        if self.failed is not None:
            return
        self.failed = exc
        stream = self.stream
        self.stream = None  # FileHandler's own "closed" state
        with contextlib.suppress(Exception):  # closing flushes the buffer the disk refused: fails again
            if stream is not None:
                stream.close()
        name = Path(self.baseFilename).name
        if self._on_error is not None:
            self._on_error(name, exc)
        else:
            sys.stderr.write(f"cannot write {self.baseFilename} ({exc.strerror or exc}); no more records go to it\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            super().close()


def reset_logging() -> None:
    """Remove the handlers a previous ``configure_logging`` call installed (closing their files)."""
    root = logging.getLogger("perf_tests")
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()


def configure_logging(settings: LoggingSettings, log_dir: Path | None, console: bool = True,
                      on_file_error: FileErrorCallback | None = None) -> None:
    """Send the framework's logs to the console (colour) and, with ``log_dir``, to rotating files.

    ``on_file_error(file name, error)`` is called once per log file that cannot be written.
    """
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
        text = _StoppingFileHandler(
            log_dir / TEXT_LOG_NAME,
            on_file_error,
            maxBytes=settings.log_max_bytes,
            backupCount=settings.log_backup_count,
            encoding="utf-8",
        )
        text.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"))
        as_json = _StoppingFileHandler(
            log_dir / JSON_LOG_NAME,
            on_file_error,
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
