"""Keep secrets (tokens, cookies, kubeconfig credentials) out of every log line and message.

Secrets are registered once when settings are read; ``redact`` replaces each registered value, and
anything shaped like a bearer token or cookie header, with ``***``.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["SecretRedactingFilter", "redact", "register_secret"]

_lock = threading.Lock()
_secrets: set[str] = set()
_SHAPES = re.compile(
    r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?bearer\s+)[^\s\"',}]+"
    r"|((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|((?:cookie|set-cookie)[\"']?\s*[:=]\s*[\"']?)[^\"'\n}]+"
)
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words


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
    return _SHAPES.sub(lambda m: (m.group(1) or m.group(2) or m.group(3) or "") + "***", text)


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
