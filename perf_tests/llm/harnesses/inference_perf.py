"""The ``inference-perf`` harness: kubernetes-sigs/inference-perf from its own virtualenv (``.venv-inference-perf``,
``make inference-perf-env``; it needs Python >= 3.12, see ``python_finder``).

Its YAML config is generated from the entry (``inference_perf_config``): ``api.type`` completion or chat
(``requestFormat``, default completion) with streaming, ``data.type: random`` with fixed input and output
lengths (``promptTokens``/``outputTokens``) sized by the entry's local tokenizer, ``load.type`` constant,
poisson or concurrent with its ``stages`` (one per entry stage, whole seconds, no pause between them),
``server`` (vLLM type, model, base URL, ``ignore_eos``) and the reports it writes into the entry's folder:
``summary_lifecycle_metrics.json``, ``stage_<n>_lifecycle_metrics.json`` and
``per_request_lifecycle_metrics.json`` (requests without their payloads). Run through ``held_start.py``
with that virtualenv's interpreter, held at its first stage (data, tokenizer and worker processes ready).

How it schedules: each stage sends exactly ``rate x duration`` requests. An entry's ``poisson`` and
``constant`` both become inference-perf's ``constant`` load type, which draws exponential gaps and scales
them to fill the stage (the last request is due at its end): for a Poisson entry these are Poisson
arrivals conditioned on their count, so the offered rate is delivered over the stage; a constant entry
gets the same random gaps, as inference-perf has no evenly spaced schedule. Its own ``poisson`` type is
not used: it draws a Poisson count for each second (unseeded), so the same requests take a random number
of seconds (5 to 12 s for 16 requests at 2 req/s, 5th to 95th percentile) and the rate over the entry's
window falls short of the offered one whenever they take longer than the window. A stage's requests are
due from one second after the stage starts: the hold (``held_start``) is on the first stage and released
that second early, so the load starts on the run's clock; a later stage starts once the previous one's
requests are answered, plus that second. Requests are sent
from worker processes (``workers``, default 1 here), each at most 100 in flight; ``concurrent`` sends
``maxRequests`` requests over ``rate`` streams. A stage ends when its requests are answered. What it
counts: TTFT and ITL from streamed chunk times (ITL per request as the mean gap, every gap kept too), TPOT
as (last token - first token) / (output tokens - 1), latency from dispatch to the last byte (retries
included). It has no per-request targeted start in its per-request report, so ``request_scheduled_latency``
is not measured.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import yaml

from perf_tests.errors import RunnerError
from perf_tests.llm.command import OFFLINE_ENV, HarnessCommand
from perf_tests.llm.harnesses.harness import Harness
from perf_tests.llm.harnesses.records import benchmark_from_records
from perf_tests.llm.harnesses.registry import HARNESSES
from perf_tests.llm.harnesses.venvs import HELD_START, HELD_START_FLAGS, installed_version, venv_python
from perf_tests.llm.options import HUB_TOKENIZER_PREFIX, LlmLoadFields
from perf_tests.llm.plan import Launch
from perf_tests.llm.results.parsing import GuidellmReport, RequestRecord

__all__ = ["INFERENCE_PERF_VENV", "LOAD_TYPES", "SUMMARY_FILE", "InferencePerfHarness", "inference_perf_config",
           "parse_reports"]

INFERENCE_PERF_VENV = ".venv-inference-perf"
SUMMARY_FILE = "summary_lifecycle_metrics.json"
PER_REQUEST_FILE = "per_request_lifecycle_metrics.json"
#: The entry's rateType -> inference-perf's load type (see the module docstring: its ``poisson`` is not used).
LOAD_TYPES = {"constant": "constant", "poisson": "constant", "concurrent": "concurrent"}
_RATE_TYPES = tuple(LOAD_TYPES)
_API_TYPES = {"completions": "completion", "chat": "chat"}


@HARNESSES.register("inference-perf")
class InferencePerfHarness(Harness):
    """inference-perf (see the module docstring)."""

    name = "inference-perf"
    measures = frozenset({"ttft", "itl", "tpot", "request_latency", "prompt_tokens", "output_tokens"})
    own_rates = False  # its reports count requests, they give no achieved rate

    def entry_problems(self, entry: LlmLoadFields) -> list[str]:
        problems = self.problems_of_fields(entry, [
            ("rateType", entry.rate_type not in _RATE_TYPES,
             f"inference-perf takes rateType {', '.join(_RATE_TYPES)}, not {entry.rate_type}"),
            ("dataFile", entry.data_file is not None, "inference-perf takes synthetic data here (promptTokens, "
             "outputTokens); use harness guidellm for a data file"),
            ("backendOptions", bool(entry.backend_options), "backendOptions are GuideLLM's --backend keys"),
            ("headers", bool(entry.headers), "not passed to inference-perf (they would be written into its config)"),
            ("maxConcurrency", entry.max_concurrency is not None, "inference-perf caps requests in flight per "
             "worker (100); use rateType concurrent"),
            ("executor", entry.executor != "local", "inference-perf runs on the local executor only"),
            ("maxRequests", entry.max_requests is not None and entry.rate_type != "concurrent",
             "inference-perf's constant and poisson stages are rate x duration; maxRequests applies to "
             "rateType concurrent"),
        ])
        if entry.rate_type == "concurrent" and entry.max_requests is None:
            problems.append("field 'maxRequests': inference-perf with rateType concurrent sends a fixed number of "
                            "requests; give maxRequests")
        return problems

    def check(self) -> str:
        python = venv_python(INFERENCE_PERF_VENV, "inference-perf-env", self.name)
        return installed_version(python, "inference-perf")

    def plan(self, entry: LlmLoadFields) -> list[Launch]:
        # Stages are inference-perf's own: one process for the whole entry.
        rate = entry.rate if entry.stages is None else None
        return [Launch(0, 0.0, entry.run_time, rate, 1, self.name)]

    def build(self, entry: LlmLoadFields, launch: Launch, *, target_url: str, tokenizer: str | Path | None,
              output_path: str | Path, data_path: str | Path | None = None) -> HarnessCommand:
        python = venv_python(INFERENCE_PERF_VENV, "inference-perf-env", self.name)
        folder = Path(output_path).parent
        config = inference_perf_config(entry, launch, target_url=target_url, tokenizer=tokenizer,
                                       report_dir=folder)
        config_path = folder / "config.yaml"
        args = ("inference-perf", "--config_file", str(config_path), *entry.extra_args)
        env = {} if tokenizer is not None and str(tokenizer).startswith(HUB_TOKENIZER_PREFIX) else dict(OFFLINE_ENV)
        return HarnessCommand(args, {"config": config}, env, str(output_path), args, {},
                              program=("inference-perf",),
                              launch=(str(python), *HELD_START_FLAGS, str(HELD_START)),
                              files={str(config_path): yaml.safe_dump(config, sort_keys=False)})

    def output_path(self, entry_dir: Path, launch: Launch) -> Path:
        return entry_dir / launch.label / SUMMARY_FILE

    def parse(self, path: Path) -> GuidellmReport:
        return parse_reports(path.parent)


def _fixed(tokens: int) -> dict[str, Any]:
    return {"type": "fixed", "min": tokens, "max": tokens, "mean": tokens, "std_dev": 0}


def _stages(entry: LlmLoadFields, launch: Launch) -> list[dict[str, Any]]:
    if entry.rate_type == "concurrent":
        return [{"num_requests": entry.max_requests, "concurrency_level": int(entry.rate or 1)}]
    steps: list[tuple[float, float]]
    if entry.stages is not None:
        steps = [(stage.rate, stage.duration) for stage in entry.stages if stage.rate > 0]
    else:
        seconds = entry.max_seconds if entry.max_seconds is not None else launch.duration
        steps = [(launch.rate or 1.0, seconds)]
    # inference-perf's stage durations are whole seconds
    return [{"rate": rate, "duration": max(1, math.floor(duration + 1e-9))} for rate, duration in steps]


def inference_perf_config(entry: LlmLoadFields, launch: Launch, *, target_url: str, tokenizer: str | Path | None,
                          report_dir: Path) -> dict[str, Any]:
    """inference-perf's YAML config (as a dict) for ``entry``: see the module docstring."""
    server: dict[str, Any] = {"type": "vllm", "base_url": target_url, "ignore_eos": True}
    if entry.model is not None:
        server["model_name"] = entry.model
    config: dict[str, Any] = {
        "api": {"type": _API_TYPES[entry.request_format or "completions"], "streaming": True},
        "data": {
            "type": "random",
            "input_distribution": _fixed(entry.effective_prompt_tokens),
            "output_distribution": _fixed(entry.effective_output_tokens),
        },
        "load": {
            "type": LOAD_TYPES[entry.rate_type],
            "interval": 0,
            "stages": _stages(entry, launch),
            "num_workers": entry.workers or 1,
        },
        "server": server,
        "report": {
            "request_lifecycle": {
                "summary": True, "per_stage": True, "per_request": True,
                "per_request_fields": {"request": False, "response": False, "response_chunks": False,
                                       "computed_metrics": True},
            },
        },
        "storage": {"local_storage": {"path": str(report_dir)}},
    }
    if tokenizer is not None:
        config["tokenizer"] = {"pretrained_model_name_or_path": str(tokenizer).removeprefix(HUB_TOKENIZER_PREFIX)}
    return config


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunnerError(f"inference-perf report {path} cannot be read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise RunnerError(f"inference-perf report {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None


def parse_reports(folder: Path, clock_offset: float | None = None) -> GuidellmReport:
    """inference-perf's per-request and summary reports in ``folder`` as a ``LoadReport``.

    Its times are ``time.perf_counter()`` readings (CLOCK_MONOTONIC, shared by this machine's processes);
    ``clock_offset`` (wall minus monotonic, default: now) turns them into epoch seconds.
    """
    summary = _load_json(folder / SUMMARY_FILE)
    requests = _load_json(folder / PER_REQUEST_FILE)
    if not isinstance(requests, list) or not isinstance(summary, dict):
        raise RunnerError(f"{folder}: not inference-perf's reports ({PER_REQUEST_FILE} must hold a list of "
                          f"requests, {SUMMARY_FILE} an object)")
    offset = time.time() - time.perf_counter() if clock_offset is None else clock_offset
    records: list[RequestRecord] = []
    gaps_ms: list[float] = []
    for item in requests:
        if not isinstance(item, dict) or not isinstance(item.get("start_time"), int | float):
            continue
        start = float(item["start_time"]) + offset
        end = float(item.get("end_time") or item["start_time"]) + offset
        error = item.get("error")
        computed = item.get("computed_metrics") or {}
        info = item.get("info") or {}
        usage = (info.get("response_metrics") or {}).get("server_usage") or {}  # the server's counts first
        prompt = usage.get("prompt_tokens", computed.get("input_tokens", (
            (info.get("request_metrics") or {}).get("text") or {}).get("input_tokens")))
        output = usage.get("completion_tokens", computed.get("output_tokens"))
        if error:
            message = error.get("error_msg") or error.get("error_type") if isinstance(error, dict) else error
            records.append(RequestRecord("errored", None, start, end, None, None, None, None, None,
                                         _int(prompt), None, error=str(message)))
            continue
        gaps_ms += [gap * 1000 for gap in computed.get("inter_token_latencies") or []]
        records.append(RequestRecord(
            status="successful",
            targeted_start=None,
            start=start,
            end=end,
            latency=_float(computed.get("request_latency")),
            scheduled_latency=None,
            ttft_ms=_ms(computed.get("time_to_first_token")),
            itl_ms=_ms(computed.get("inter_token_latency")),
            tpot_ms=_ms(computed.get("time_per_output_token")),
            prompt_tokens=_int(prompt),
            output_tokens=_int(output),
        ))
    load = summary.get("load_summary") or {}
    rate = load.get("requested_rate")
    benchmark = benchmark_from_records(
        records, strategy=str(load.get("type") or "inference-perf"),
        strategy_rate=float(rate) if isinstance(rate, int | float) else None, itl_samples_ms=gaps_ms,
    )
    return GuidellmReport(folder / SUMMARY_FILE, "unknown", (benchmark,), {"load_summary": load})


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ms(value: Any) -> float | None:
    seconds = _float(value)
    return None if seconds is None else seconds * 1000


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
