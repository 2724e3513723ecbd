"""configure_logging: colour console, rotating text log and rotating JSON-lines log, all redacted."""

import json
import logging
import uuid

import pytest

from perf_tests.config.logging_config import (
    EVENTS_LOGGER,
    JSON_LOG_NAME,
    TEXT_LOG_NAME,
    configure_logging,
    reset_logging,
)
from perf_tests.config.settings import LoggingSettings
from perf_tests.logger.redaction import register_secret

NOISY = ("kfp", "urllib3", "kubernetes", "aiohttp", "asyncio")


@pytest.fixture(autouse=True)
def restore_logging():
    """Undo what configure_logging changes on shared loggers, for the tests that run after these."""
    root = logging.getLogger("perf_tests")
    saved = (root.level, root.propagate, {name: logging.getLogger(name).level for name in NOISY})
    yield
    reset_logging()
    root.setLevel(saved[0])
    root.propagate = saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def secret():
    value = f"s3cr3t-{uuid.uuid4().hex}"
    register_secret(value)
    return value


def settings(**fields):
    return LoggingSettings(**{"LOG_LEVEL": "INFO", "NO_COLOR": False, **fields})


def json_lines(log_dir):
    return [json.loads(line) for line in (log_dir / JSON_LOG_NAME).read_text(encoding="utf-8").splitlines()]


def text_log(log_dir):
    return (log_dir / TEXT_LOG_NAME).read_text(encoding="utf-8")


def test_files_are_created_and_get_info_and_up(tmp_path, capsys):
    log_dir = tmp_path / "results" / "logs"
    configure_logging(settings(), log_dir)
    log = logging.getLogger("perf_tests.session")
    log.debug("hidden detail")
    log.info("run started")
    log.error("it broke")
    reset_logging()
    text = text_log(log_dir)
    assert "INFO    [MainThread] perf_tests.session: run started" in text
    assert "ERROR   [MainThread] perf_tests.session: it broke" in text
    assert "hidden detail" not in text
    assert [line["message"] for line in json_lines(log_dir)] == ["run started", "it broke"]
    console = capsys.readouterr().err
    assert "INFO    run started" in console
    assert "hidden detail" not in console


def test_json_lines_have_the_fields_and_event_fields(tmp_path):
    configure_logging(settings(), tmp_path, console=False)
    log = logging.getLogger("perf_tests.runners.x")
    log.warning(
        "create_run took %d ms", 1250,
        extra={"scenario": "s1", "mode": "PIPELINE_RUN", "operation": "create_run", "duration_ms": 1250.0,
               "outcome": "error", "error_type": "http_500"},
    )
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("failed")
    reset_logging()
    first, second = json_lines(tmp_path)
    assert first["level"] == "WARNING"
    assert first["logger"] == "perf_tests.runners.x"
    assert first["message"] == "create_run took 1250 ms"
    assert first["thread"] == "MainThread"
    assert first["time"].endswith("+00:00")
    assert {key: first[key] for key in ("scenario", "mode", "operation", "duration_ms", "outcome", "error_type")} == {
        "scenario": "s1", "mode": "PIPELINE_RUN", "operation": "create_run", "duration_ms": 1250.0,
        "outcome": "error", "error_type": "http_500",
    }
    assert "scenario" not in second
    assert second["exception"].startswith("Traceback (most recent call last)")
    assert second["exception"].endswith("ValueError: bad value")


def test_event_records_stay_off_the_console_unless_they_are_problems(tmp_path, capsys):
    configure_logging(settings(), tmp_path)
    events = logging.getLogger(EVENTS_LOGGER)
    events.info("s create_run 10.0 ms ok")
    events.warning("s create_run 10.0 ms http_500: nope")
    reset_logging()
    console = capsys.readouterr().err
    assert "10.0 ms ok" not in console
    assert "http_500: nope" in console
    assert "10.0 ms ok" in text_log(tmp_path)
    assert len(json_lines(tmp_path)) == 2


def test_debug_level_reaches_console_and_files(tmp_path, capsys):
    configure_logging(settings(LOG_LEVEL="DEBUG"), tmp_path)
    logging.getLogger("perf_tests.x").debug("fine detail")
    reset_logging()
    assert "fine detail" in capsys.readouterr().err
    assert "fine detail" in text_log(tmp_path)
    assert logging.getLogger("urllib3").level == logging.DEBUG


def test_quiet_console_level_keeps_info_in_files(tmp_path, capsys):
    configure_logging(settings(LOG_LEVEL="ERROR"), tmp_path)
    logging.getLogger("perf_tests.x").info("progress line")
    reset_logging()
    assert "progress line" not in capsys.readouterr().err
    assert "progress line" in text_log(tmp_path)


def test_third_party_loggers_are_quiet(tmp_path):
    configure_logging(settings(), tmp_path, console=False)
    for name in NOISY:
        assert logging.getLogger(name).level == logging.WARNING


def test_configuring_twice_does_not_duplicate_lines(tmp_path, capsys):
    configure_logging(settings(), tmp_path)
    configure_logging(settings(), tmp_path)
    logging.getLogger("perf_tests.x").info("once")
    reset_logging()
    assert capsys.readouterr().err.count("once") == 1
    assert text_log(tmp_path).count("once") == 1
    assert len(json_lines(tmp_path)) == 1


def test_reset_closes_files_and_removes_only_its_own_handlers(tmp_path):
    root = logging.getLogger("perf_tests")
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    before = list(root.handlers)  # the foreign one, and whatever pytest's log capture attached
    try:
        configure_logging(settings(), tmp_path, console=False)
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 2
        reset_logging()
        assert root.handlers == before
        assert all(getattr(h, "stream", None) is None for h in ours)  # files closed
    finally:
        root.removeHandler(foreign)


def test_logs_rotate(tmp_path):
    configure_logging(settings(LOG_MAX_BYTES=2000, LOG_BACKUP_COUNT=2), tmp_path, console=False)
    log = logging.getLogger("perf_tests.x")
    for number in range(200):
        log.info("line %03d %s", number, "x" * 50)
    reset_logging()
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == sorted([TEXT_LOG_NAME, f"{TEXT_LOG_NAME}.1", f"{TEXT_LOG_NAME}.2",
                            JSON_LOG_NAME, f"{JSON_LOG_NAME}.1", f"{JSON_LOG_NAME}.2"])
    for name in names:
        assert (tmp_path / name).stat().st_size <= 2000
    assert json_lines(tmp_path)[-1]["message"].startswith("line 199 ")


def test_secrets_are_redacted_on_console_text_and_json(tmp_path, capsys, secret):
    configure_logging(settings(), tmp_path)
    log = logging.getLogger("perf_tests.targets")
    log.info("connecting with token %s", secret)
    log.warning("request headers: Authorization: Bearer xyzabcdefghijkl123 cookie: session=%s", secret)
    try:
        raise RuntimeError(f"server rejected {secret}")
    except RuntimeError:
        log.exception("login failed for Bearer %s", secret)
    reset_logging()
    outputs = {
        "console": capsys.readouterr().err,
        "text": text_log(tmp_path),
        "json": (tmp_path / JSON_LOG_NAME).read_text(encoding="utf-8"),
    }
    for where, output in outputs.items():
        assert secret not in output, where
        assert "xyzabcdefghijkl123" not in output, where
        assert "connecting with token ***" in output, where
        assert "Authorization: Bearer ***" in output, where
        assert "RuntimeError: server rejected ***" in output, where
    lines = json_lines(tmp_path)
    assert lines[0]["message"] == "connecting with token ***"
    assert lines[2]["exception"].endswith("RuntimeError: server rejected ***")
