"""Masking secrets in GuideLLM's output before it reaches its log file.

GuideLLM prints its backend settings, request headers included, when it starts. With
``PERF_TESTS_SECRETS`` set (a JSON list: the entry's API key and header values), the launcher routes its
standard output and error, which GuideLLM's worker processes inherit, through a thread that masks them
line by line. Importing this module changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Sequence

__all__ = ["drain_output", "mask_secrets", "secrets_from_env"]

_SECRETS_ENV = "PERF_TESTS_SECRETS"  # perf_tests.llm.command.SECRETS_ENV (not imported: no side effects here)
_MASK = b"***"


def mask_secrets(secrets: Sequence[str]) -> threading.Thread | None:
    """Route this process's standard output and error (fds 1 and 2, inherited by GuideLLM's workers)
    through a thread that masks ``secrets`` in each line; the thread, or None when there is nothing to mask."""
    needles = sorted({secret.encode() for secret in secrets if secret}, key=len, reverse=True)
    if not needles:
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    target = os.dup(1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy() -> None:
        with os.fdopen(read_end, "rb") as source:
            for line in source:  # a secret never spans lines: GuideLLM's progress bars are off
                for needle in needles:
                    line = line.replace(needle, _MASK)
                os.write(target, line)

    thread = threading.Thread(target=copy, name="perf-tests-mask-secrets", daemon=True)
    thread.start()
    _masking.append(thread)
    return thread


_masking: list[threading.Thread] = []


def drain_output(timeout: float = 5.0) -> None:
    """Before exiting: let the masking thread write what is left (it ends when nothing holds the pipe)."""
    if not _masking:
        return
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    for thread in _masking:
        thread.join(timeout)


def secrets_from_env() -> list[str]:
    raw = os.environ.pop(_SECRETS_ENV, "")  # GuideLLM and its workers never see the list
    try:
        values = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [value for value in values if isinstance(value, str)] if isinstance(values, list) else []
