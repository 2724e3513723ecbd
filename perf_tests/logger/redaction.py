"""Keep secrets (tokens, cookies, kubeconfig credentials, passwords in URLs) out of every log line,
message and results file.

Secrets are registered once when settings are read; ``redact`` replaces each registered value, and
anything shaped like a bearer token, a cookie header or the password of a ``scheme://user:password@host``
URL, with ``***``. ``redact_data`` does the same to every string of a JSON-like document (what the run
writes to summary.json and run.json). Redact before cutting a text short: half a secret no longer matches.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["SECRET_NAME_WORDS", "SecretRedactingFilter", "is_secret_name", "redact", "redact_data", "register_secret"]

_lock = threading.Lock()
_secrets: set[str] = set()
_SHAPES = re.compile(
    r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?bearer\s+)[^\s\"',}]+"
    r"|((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|((?:cookie|set-cookie)[\"']?\s*[:=]\s*[\"']?)[^\"'\n}]+"
    r"|(\b[a-z][a-z0-9+.-]*://[^\s/?#@:\"']*:)[^\s/?#@\"']+(?=@)"  # scheme://user:PASSWORD@host
)
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words

SECRET_NAME_WORDS = ("key", "token", "auth", "password", "secret", "header", "cookie", "credential")
"""A setting whose name contains one of these words holds a secret (``api_key``, ``HF_TOKEN``, ``VLLM_API_KEY``)."""


def is_secret_name(name: str) -> bool:
    """True for the name of a setting that holds a secret (a ``backendOptions`` key, an environment variable)."""
    return any(word in name.lower() for word in SECRET_NAME_WORDS)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that ``redact`` removes it wherever it appears."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)
            for part in value.split(";"):  # each cookie of a cookie header is secret on its own
                part = part.strip()
                if "=" in part and len(part.split("=", 1)[1]) >= _MIN_SECRET_LENGTH:
                    _secrets.add(part.split("=", 1)[1])


def redact(text: str) -> str:
    """Return ``text`` with registered secrets and credential-shaped values replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return _SHAPES.sub(lambda m: (m.group(1) or m.group(2) or m.group(3) or m.group(4) or "") + "***", text)


def redact_data(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string (keys too) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(key) if isinstance(key, str) else key: redact_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value


class SecretRedactingFilter(logging.Filter):
    """Logging filter that redacts the formatted message (and exception text) of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a malformed log call: the handler reports it (Handler.handleError), never the caller
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(exc_text)
        return True
