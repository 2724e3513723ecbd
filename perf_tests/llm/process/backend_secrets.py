"""The entry's secret ``--backend`` keys, merged into GuideLLM's arguments in memory, never on a command line.

A process's command line is world-readable (``/proc/<pid>/cmdline``, ``ps``); its environment is readable
by its own user only. So ``perf_tests.llm.command`` starts the launcher with ``--backend`` without the
secrets (``api_key``, ``extras.headers`` ...) and puts them, as a JSON object, in ``PERF_TESTS_BACKEND_SECRETS``.
``merge_backend_secrets`` takes that variable out of the environment (GuideLLM's workers never see it) and
deep-merges it into the ``--backend`` value of the argument list handed to GuideLLM's CLI in this
process; GuideLLM's workers get the backend through multiprocessing, not through their command lines.
Importing this module changes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BACKEND_FLAG", "merge_backend_secrets", "merged"]

BACKEND_FLAG = "--backend"
_ENV = "PERF_TESTS_BACKEND_SECRETS"  # perf_tests.llm.command.BACKEND_SECRETS_ENV (not imported: no side effects)


def merged(public: Mapping[str, Any], secret: Mapping[str, Any]) -> dict[str, Any]:
    """``public`` with ``secret`` merged in (nested dicts merged key by key, ``secret`` wins)."""
    result = dict(public)
    for key, value in secret.items():
        inner = result.get(key)
        result[key] = merged(inner, value) if isinstance(inner, Mapping) and isinstance(value, Mapping) else value
    return result


def merge_backend_secrets(args: Sequence[str], raw: str | None = None) -> list[str]:
    """``args`` with the secrets of ``raw`` (default: ``PERF_TESTS_BACKEND_SECRETS``, removed from the
    environment) merged into the ``--backend`` value, rendered as ``perf_tests.llm.command`` renders
    options; ``args`` unchanged without secrets.

    ``SystemExit(2)`` (no secret in the message) when the variable is not a JSON object or there is no
    ``--backend`` to merge it into: a run without its API key would only fail request by request.
    """
    if raw is None:
        raw = os.environ.pop(_ENV, "")
    if not raw:
        return list(args)
    try:
        secret = json.loads(raw)
    except ValueError:
        secret = None
    if not isinstance(secret, dict):
        raise SystemExit(f"perf-tests: {_ENV} is not a JSON object (its value is not shown: it holds secrets)")
    from guidellm.utils.cli import parse_arguments  # GuideLLM's own reading of a --backend value

    from perf_tests.llm.command import render_option  # here, not at the top: GuideLLM's workers import this module

    result = list(args)
    for index, arg in enumerate(result):
        if arg == BACKEND_FLAG and index + 1 < len(result):
            position, text = index + 1, result[index + 1]
        elif arg.startswith(BACKEND_FLAG + "="):
            position, text = index, arg.split("=", 1)[1]
        else:
            continue
        public = parse_arguments(None, None, text)  # type: ignore[arg-type]  # click's ctx/param are unused
        if not isinstance(public, dict):
            raise SystemExit(f"perf-tests: {BACKEND_FLAG} is not an object; the entry's secrets cannot be added")
        value = render_option(merged(public, secret))
        result[position] = value if position == index + 1 else f"{BACKEND_FLAG}={value}"
        return result
    raise SystemExit(f"perf-tests: {_ENV} is set but there is no {BACKEND_FLAG} argument to add the secrets to")
