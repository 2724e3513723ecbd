"""The one place that turns an ``LLM_LOAD`` entry into a ``guidellm run`` command line.

GuideLLM 0.8's CLI takes one option per part of a benchmark, each a ``kind=...`` string (or JSON):
``--backend``, ``--tokenizer``, ``--data``, ``--profile``, ``--constraint`` (repeatable), ``--seed``,
``--output``. ``build_command`` fills them from the entry's fields for one planned process (``Launch``)
and returns a ``GuidellmCommand``: the arguments, the same options as structured data (for reports and
for executors that template them elsewhere, e.g. a Tekton task) and the environment the process needs.
Every executor runs exactly these arguments; only the program in front differs.

Secrets (an ``api_key`` in ``backendOptions``, header values) stay ``SecretStr`` in ``options`` and are
masked in what is shown (``shell()``, ``shown_args``). They are never on a command line (anyone on the
machine reads ``/proc/<pid>/cmdline``, ``ps`` shows it): ``args`` carries ``--backend`` without them and
``secret_env`` (the process's environment, readable by its own user only) holds them as JSON under
``BACKEND_SECRETS_ENV``; GuideLLM's launcher (``perf_tests.llm.process.backend_secrets``) merges them into
its ``--backend`` in memory, and masks every value (``SECRETS_ENV``) in GuideLLM's output.
"""

from __future__ import annotations

import json
import math
import shlex
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from perf_tests.llm.options import DATA_FILE_KINDS, HUB_TOKENIZER_PREFIX, REQUEST_FORMATS, LlmLoadFields
from perf_tests.llm.plan import Launch

__all__ = [
    "BACKEND_SECRETS_ENV",
    "OFFLINE_ENV",
    "SECRETS_ENV",
    "GuidellmCommand",
    "HarnessCommand",
    "build_command",
    "launch_seed",
    "pending_buffer_percent",
    "render_option",
    "reveal",
    "split_secrets",
]

OFFLINE_ENV: Mapping[str, str] = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
"""Set for the GuideLLM process when the tokenizer is a local folder: nothing is fetched from a hub."""

SECRETS_ENV = "PERF_TESTS_SECRETS"
"""JSON list of the entry's secret values, for the launcher to scrub from GuideLLM's output (never shown)."""

BACKEND_SECRETS_ENV = "PERF_TESTS_BACKEND_SECRETS"
"""JSON object of the ``--backend`` keys holding secrets (``api_key``, ``extras.headers``), for the launcher to
merge into GuideLLM's ``--backend`` (``perf_tests.llm.process.backend_secrets``; never on a command line)."""

GUIDELLM_MAX_CONCURRENCY = 10240
"""GuideLLM's default cap on requests in flight when the profile sets none (its ``max_concurrency`` setting)."""
_QUIET = "--disable-console-interactive"  # no progress bars in a log file; tables and errors stay


@dataclass(frozen=True)
class HarnessCommand:
    """One load generator process (``guidellm run``, ``vllm bench serve``, ``inference-perf``): its arguments
    after the program, the options they encode, its environment.

    ``options`` maps each flag to its structured value (a dict, or a list of dicts for repeatable flags)
    for reports and for executors that build the arguments elsewhere; ``args`` is the exact command line.
    ``program`` is what is shown in front of ``args`` (``guidellm``); ``launch`` is the command line a local
    executor starts in front of ``args`` (None: GuideLLM's held launcher, ``perf_tests.llm.launcher``).
    ``files`` are written before the process starts (an inference-perf config), path -> text.
    """

    args: tuple[str, ...] = field(repr=False)  # never a secret (those are in secret_env)
    options: Mapping[str, Any]
    env: Mapping[str, str] = field(default_factory=dict)
    output_path: str = ""
    shown_args: tuple[str, ...] = ()
    secret_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    program: tuple[str, ...] = ("guidellm",)
    launch: tuple[str, ...] | None = None
    files: Mapping[str, str] = field(default_factory=dict)

    def argv(self, program: Sequence[str] | None = None) -> list[str]:
        """The full command line with ``program`` in front (default: ``self.program``); no secret in it."""
        return [*(self.program if program is None else program), *self.args]

    def shown_argv(self, program: Sequence[str] | None = None) -> list[str]:
        """The command line as shown in logs and reports: secrets masked."""
        return [*(self.program if program is None else program), *(self.shown_args or self.args)]

    def shell(self, program: Sequence[str] | None = None) -> str:
        """The command as one shell line, environment first, for logs and ``command.txt`` (secrets masked)."""
        env = " ".join(f"{key}={shlex.quote(value)}" for key, value in sorted(self.env.items()))
        line = shlex.join(self.shown_argv(program))
        return f"{env} {line}" if env else line


GuidellmCommand = HarnessCommand
"""The name this class had when GuideLLM was the only harness."""


def render_option(value: Mapping[str, Any]) -> str:
    """A ``kind=...,key=value`` string when GuideLLM parses it back to ``value``, else compact JSON.

    GuideLLM splits ``key=value`` pairs on every comma and reads each value as YAML, so a value with a
    comma, or one YAML would read as another type, is sent as JSON (which GuideLLM also accepts).
    """
    pairs = ",".join(f"{key}={_scalar(item)}" for key, item in value.items())
    if all(_plain(item) for item in value.values()) and _parse_pairs(pairs) == dict(value):
        return pairs
    return json.dumps(dict(value), separators=(",", ":"))


def _scalar(item: Any) -> str:
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)


def _plain(item: Any) -> bool:
    return item is None or isinstance(item, bool | int | float | str)


def _parse_pairs(text: str) -> dict[str, Any] | None:
    """How GuideLLM's CLI reads a ``key=value`` string (``guidellm.utils.cli.parse_arguments``)."""
    try:
        if yaml.safe_load(text) != text:
            return None  # GuideLLM would take the whole string as YAML
        parsed: dict[str, Any] = {}
        for pair in text.split(","):
            if "=" not in pair:
                return None
            key, raw = pair.split("=", 1)
            if key.strip() != key or raw.strip() != raw or "." in key or "[" in key:
                return None
            parsed[key] = yaml.safe_load(raw)
    except yaml.YAMLError:
        return None
    return parsed


def launch_seed(entry_name: str, launch: Launch) -> int:
    """A seed for GuideLLM's synthetic data that differs per entry and process but not per run.

    GuideLLM's default seed is the same for every process, so overlapping processes (stair-step layers,
    parallel entries) would send the same prompts and hit a server's prefix cache.
    """
    return zlib.crc32(f"{entry_name}#{launch.index}".encode()) % 2**31


def build_command(
    entry: LlmLoadFields,
    launch: Launch,
    *,
    target_url: str,
    tokenizer: str | Path | None,
    output_path: str | Path,
    data_path: str | Path | None = None,
) -> GuidellmCommand:
    """The ``guidellm run`` command of one planned process of ``entry``.

    ``target_url`` is the resolved target (the mock server's URL when the entry has none), ``tokenizer``
    a local folder (or ``hf:`` id, or None for GuideLLM's own lookup by model) and ``data_path`` the
    resolved data file; paths are as the process will see them.
    """
    options: dict[str, Any] = {
        "--backend": _backend(entry, target_url),
        "--tokenizer": _tokenizer(tokenizer),
        "--data": [_data(entry, data_path)],
        "--profile": _profile(entry, launch),
        "--constraint": _constraints(entry, launch),
        "--output": [{"kind": "json", "path": str(output_path)}],
    }
    if options["--tokenizer"] is None:
        del options["--tokenizer"]
    if not any(arg.split("=", 1)[0] == "--seed" for arg in entry.extra_args):
        options["--seed"] = {"kind": "static", "value": launch_seed(entry.name, launch)}
    args: list[str] = ["run"]
    shown: list[str] = ["run"]
    backend_secrets: dict[str, Any] = {}
    for flag, value in options.items():
        for item in value if isinstance(value, list) else [value]:
            public, secret = split_secrets(item)
            if secret:
                backend_secrets.update(secret)  # only --backend holds secrets
            args += [flag, render_option(public)]
            shown += [flag, render_option(reveal(item, mask=True))]
    args.append(_QUIET)
    shown.append(_QUIET)
    args += entry.extra_args
    shown += entry.extra_args
    env: dict[str, str] = {}
    if tokenizer is None or not str(tokenizer).startswith(HUB_TOKENIZER_PREFIX):
        env.update(OFFLINE_ENV)
    if entry.workers is not None:
        env["GUIDELLM__MAX_WORKER_PROCESSES"] = str(entry.workers)
    buffer = pending_buffer_percent(entry, launch)
    if buffer is not None:
        env["GUIDELLM__MP_MAX_PENDING_BUFFER_PERCENT"] = buffer
    secrets = entry.secret_values
    secret_env = {SECRETS_ENV: json.dumps(secrets)} if secrets else {}
    if backend_secrets:
        secret_env[BACKEND_SECRETS_ENV] = json.dumps(backend_secrets, separators=(",", ":"))
    return GuidellmCommand(tuple(args), options, env, str(output_path), tuple(shown), secret_env)


_MASK = "**********"  # what pydantic shows for a SecretStr


def reveal(value: Any, *, mask: bool = False) -> Any:
    """``value`` with every ``SecretStr`` (in dicts and lists too) replaced by its value, or masked."""
    if isinstance(value, SecretStr):
        return _MASK if mask else value.get_secret_value()
    if isinstance(value, Mapping):
        return {key: reveal(item, mask=mask) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [reveal(item, mask=mask) for item in value]
    return value


def split_secrets(value: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``value`` as ``(public, secret)``: every ``SecretStr`` (in nested dicts too) moves, revealed, to
    ``secret`` at the same path; a dict left empty by the move is dropped from ``public``."""
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, SecretStr):
            secret[key] = item.get_secret_value()
        elif isinstance(item, Mapping):
            inner_public, inner_secret = split_secrets(item)
            if inner_secret:
                secret[key] = inner_secret
            if inner_public or not inner_secret:
                public[key] = inner_public
        else:
            public[key] = reveal(item)
    return public, secret


def pending_buffer_percent(entry: LlmLoadFields, launch: Launch) -> str | None:
    """GuideLLM's pending-request buffer for an open-loop rate without ``maxConcurrency``, as a share of its
    default cap of 10240 requests in flight: about 5 s of requests (at least 64) instead of 5120.

    GuideLLM creates that many requests ahead; at the end of the load it cancels them one by one, which
    took minutes with several processes on a small machine (and the report comes only after). None
    keeps GuideLLM's default (closed-loop types, or a ``maxConcurrency`` that already bounds the buffer).
    """
    if entry.rate_type not in ("constant", "poisson") or entry.max_concurrency is not None or launch.rate is None:
        return None
    pending = max(64, math.ceil(launch.rate * 5))
    return f"{min(0.5, pending / GUIDELLM_MAX_CONCURRENCY):.6g}"


def _backend(entry: LlmLoadFields, target_url: str) -> dict[str, Any]:
    backend: dict[str, Any] = {"kind": "openai_http", "target": target_url}
    if entry.model is not None:
        backend["model"] = entry.model
    if entry.request_format is not None:
        backend["request_format"] = REQUEST_FORMATS[entry.request_format]
    backend.update(entry.backend_options)
    if entry.headers:
        backend["extras"] = {"headers": dict(entry.headers)}  # GuideLLM's per-request headers
    return backend


def _tokenizer(tokenizer: str | Path | None) -> dict[str, Any] | None:
    if tokenizer is None:
        return None
    name = str(tokenizer)
    return {"kind": "huggingface_auto", "model": name.removeprefix(HUB_TOKENIZER_PREFIX)}


def _data(entry: LlmLoadFields, data_path: str | Path | None) -> dict[str, Any]:
    if entry.data_file is None:
        return {
            "kind": "synthetic_text",
            "prompt_tokens": entry.effective_prompt_tokens,
            "output_tokens": entry.effective_output_tokens,
        }
    path = str(data_path if data_path is not None else entry.data_path or entry.data_file)
    return {"kind": DATA_FILE_KINDS[Path(entry.data_file).suffix.lower()], "path": path}


def _profile(entry: LlmLoadFields, launch: Launch) -> dict[str, Any]:
    kind = entry.rate_type
    if kind == "synchronous":
        return {"kind": "synchronous"}
    if kind == "concurrent":
        return {"kind": "concurrent", "streams": int(launch.rate or 1)}
    profile: dict[str, Any] = {"kind": kind}
    if kind == "throughput":
        profile["max_concurrency"] = entry.max_concurrency  # GuideLLM requires the key (None: no cap)
        return profile
    if kind == "sweep":
        profile["sweep_size"] = entry.sweep_size
    else:
        profile["rate"] = launch.rate
    if entry.max_concurrency is not None:
        profile["max_concurrency"] = entry.max_concurrency
    return profile


def _constraints(entry: LlmLoadFields, launch: Launch) -> list[dict[str, Any]]:
    seconds = entry.max_seconds
    if seconds is None:
        seconds = launch.duration / entry.sweep_size if entry.rate_type == "sweep" else launch.duration
    constraints: list[dict[str, Any]] = [{"kind": "max_duration", "seconds": round(seconds, 3)}]
    if entry.max_requests is not None:
        constraints.append({"kind": "max_requests", "count": entry.max_requests})
    return constraints
