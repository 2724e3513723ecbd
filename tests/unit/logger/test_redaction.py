"""Secret redaction: registered values and credential-shaped text never reach a log line."""

import io
import logging
import sys
import uuid

import pytest

from perf_tests.logger.redaction import SecretRedactingFilter, redact, redact_data, register_secret


@pytest.fixture
def secret():
    value = f"sec-{uuid.uuid4().hex}"
    register_secret(value)
    return value


def record(msg, *args, exc_info=None):
    return logging.LogRecord("perf_tests.x", logging.INFO, __file__, 1, msg, args or None, exc_info)


def test_registered_secret_is_replaced_everywhere(secret):
    assert redact(f"a {secret} b {secret}") == "a *** b ***"
    assert redact(f"url?token={secret}&x=1") == "url?token=***&x=1"


def test_longer_secrets_are_replaced_before_their_prefixes():
    short = f"pre-{uuid.uuid4().hex[:8]}"
    long = f"{short}-and-more"
    register_secret(short)
    register_secret(long)
    assert redact(f"[{long}] [{short}]") == "[***] [***]"


@pytest.mark.parametrize("value", [None, "", "abc"])
def test_empty_and_very_short_values_are_not_registered(value):
    register_secret(value)
    assert redact("abc is a word") == "abc is a word"


def test_each_cookie_of_a_cookie_header_is_secret_on_its_own():
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    register_secret(f"authservice_session={first}; csrf={second}; x=1")
    assert redact(f"saw {first} and {second}") == "saw *** and ***"
    assert redact("x=1 stays") == "x=1 stays"  # values under four characters are not secrets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc", "Authorization: Bearer ***"),
        ("authorization=bearer eyJhbGciOi.payload.sig rest", "authorization=bearer *** rest"),
        ('{"Authorization": "Bearer eyJhbGciOiJI", "x": 1}', '{"Authorization": "Bearer ***", "x": 1}'),
        ("sent Bearer abcdefgh12345678 to the API", "sent Bearer *** to the API"),
        ("Cookie: authservice_session=abc; other=1", "Cookie: ***"),
        ("set-cookie: id=42; Path=/", "set-cookie: ***"),
        ("{'cookie': 'session=xyz'}", "{'cookie': '***'}"),
    ],
)
def test_credential_shaped_text_is_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["create_run took 12.5 ms", "bearer of bad news", "3 cookies eaten", "GET /apis/v2beta1/runs?page_size=10"],
)
def test_ordinary_text_is_unchanged(text):
    assert redact(text) == text


def test_filter_redacts_the_formatted_message_and_drops_args(secret):
    item = record("token %s for %s", secret, "alice")
    assert SecretRedactingFilter().filter(item) is True
    assert item.getMessage() == "token *** for alice"
    assert item.args is None


def test_filter_leaves_clean_records_alone():
    item = record("count %d", 3)
    SecretRedactingFilter().filter(item)
    assert (item.msg, item.args) == ("count %d", (3,))


def test_filter_redacts_exception_text(secret):
    try:
        raise PermissionError(f"denied with {secret}")
    except PermissionError:
        item = record("failed", exc_info=sys.exc_info())
    SecretRedactingFilter().filter(item)
    assert item.exc_text is not None
    assert item.exc_text.endswith("PermissionError: denied with ***")
    formatted = logging.Formatter().format(item)
    assert secret not in formatted
    assert "PermissionError: denied with ***" in formatted


def test_a_malformed_log_call_does_not_raise_into_the_caller(secret):
    logger = logging.getLogger(f"perf_tests.redaction_test_{uuid.uuid4().hex}")
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(SecretRedactingFilter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("two values %s %s", secret)
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("GET http://admin:hunter2-pw@kfp.example.com:8888/apis failed",
      "GET http://admin:***@kfp.example.com:8888/apis failed"),
     ("targetUrl='https://u:p%40ss;w0rd@llm.internal/v1'", "targetUrl='https://u:***@llm.internal/v1'"),
     ("postgres://:only-password@db", "postgres://:***@db"),
     ('{"url": "s3://key:secret-key@bucket/x"}', '{"url": "s3://key:***@bucket/x"}')],
)
def test_passwords_in_urls_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", ["http://kfp.example.com:8888/apis", "mailto: bob@example.com", "a:b@c"])
def test_urls_without_a_password_are_unchanged(text):
    assert redact(text) == text


def test_redact_data_redacts_every_string_of_a_document(secret):
    document = {"scenario": [{"targetUrl": "http://user:pw-123456@h/v1", "n": 3, "ok": True, "x": None}],
                f"key-{secret}": (secret, 1.5)}
    assert redact_data(document) == {"scenario": [{"targetUrl": "http://user:***@h/v1", "n": 3, "ok": True,
                                                   "x": None}],
                                     "key-***": ["***", 1.5]}
