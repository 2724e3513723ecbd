"""The fields of an ``LLM_LOAD`` entry, shared by every executor (local processes, Tekton PipelineRuns).

``LlmLoadFields`` holds what the load is (target, model, tokenizer, rate type and rate, limits, data,
stages, pass-through GuideLLM arguments) and how the embedded mock target behaves; the mode's options
model (``perf_tests.runners.llm_load.LlmLoadOptions``) adds ``mode: Literal["LLM_LOAD"]``. Everything is
checked when the scenario file loads: values, combinations and the files named (tokenizer folder, data
file), so a mistake is a ``ScenarioError`` naming the field, never a traceback from GuideLLM later.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import (
    Field,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from perf_tests.llm.executors.options import ExecutorOptions
from perf_tests.llm.executors.registry import EXECUTORS
from perf_tests.logger.redaction import is_secret_name, register_secret
from perf_tests.models.durations import Seconds
from perf_tests.models.fields import MAX_COUNT, MAX_RATE, OptionsModel
from perf_tests.models.scenario import EntryFiles, ScenarioEntry, matrix_json_schema
from perf_tests.stack.options import StackOptions

BackendOption = str | int | float | bool | SecretStr | None
ExecutorOptionsT = TypeVar("ExecutorOptionsT", bound=ExecutorOptions)

__all__ = [
    "DATA_FILE_KINDS",
    "HUB_TOKENIZER_PREFIX",
    "METRIC_NAMES",
    "RATE_TYPES",
    "REQUEST_FORMATS",
    "RESERVED_ARGS",
    "LlmLoadFields",
    "LlmStage",
    "MockServerOptions",
    "RateType",
    "RequestFormat",
    "data_file_problem",
    "is_secret_key",
]

RequestFormat = Literal["chat", "completions"]
REQUEST_FORMATS: dict[str, str] = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
"""``requestFormat`` to GuideLLM's ``--backend request_format`` (the API route each request goes to)."""

RateType = Literal["synchronous", "throughput", "concurrent", "constant", "poisson", "sweep"]
RATE_TYPES: tuple[str, ...] = ("synchronous", "throughput", "concurrent", "constant", "poisson", "sweep")

METRIC_NAMES: tuple[str, ...] = (
    "llm_request",
    "output_tokens",
    "prompt_tokens",
    "request_latency",
    "request_scheduled_latency",
    "requests",
    "tpot",
    "ttft",
    "itl",
)
"""What an LLM_LOAD entry records: GuideLLM's statistics (one ``MetricsRecord`` each) and ``llm_request``,
every request replayed from GuideLLM's report as an operation (per-second timeline, failures)."""

DATA_FILE_KINDS: dict[str, str] = {
    ".txt": "text_file",
    ".csv": "csv_file",
    ".json": "json_file",
    ".jsonl": "json_file",
    ".parquet": "parquet_file",
    ".arrow": "arrow_file",
    ".h5": "hdf5_file",
    ".hdf5": "hdf5_file",
    ".tar": "tar_file",
}
"""GuideLLM data kinds by file suffix."""

HUB_TOKENIZER_PREFIX = "hf:"
"""``tokenizer: "hf:org/name"`` passes a Hugging Face hub id through unchecked (needs hub access)."""

RESERVED_ARGS: tuple[str, ...] = (
    "--backend",
    "--profile",
    "--tokenizer",
    "--data",
    "--output",
    "--config",
    "--scenario",
    "-c",
    "--disable-console",
    "--disable-console-outputs",
    "--disable-console-interactive",
    "--disable-progress",
)
"""GuideLLM options the framework sets itself; ``extraArgs`` may not repeat them."""

_MAX_RATE = MAX_RATE
class LlmStage(OptionsModel):
    """One step of a stair-step load: ``rate`` requests per second in total for ``duration``."""

    rate: float = Field(ge=0, le=_MAX_RATE, description="Total requests per second during the step.")
    duration: Seconds = Field(description="How long the step lasts: seconds or a string like '10m'.")

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("a step's duration must be greater than 0")
        return value


class MockServerOptions(OptionsModel):
    """How the embedded ``guidellm mock-server`` answers (used when ``targetUrl`` is unset)."""

    model: str = Field(default="mock-llm", min_length=1, description="Model name the mock reports.")
    ttft_ms: float = Field(default=50.0, ge=0, le=600_000, description="Time to first token (ms).")
    ttft_ms_std: float = Field(default=0.0, ge=0, le=600_000, description="Standard deviation of the TTFT (ms).")
    itl_ms: float = Field(default=5.0, ge=0, le=60_000, description="Inter-token latency (ms).")
    itl_ms_std: float = Field(default=0.0, ge=0, le=60_000, description="Standard deviation of the ITL (ms).")
    output_tokens: int = Field(
        default=128, ge=1, le=1_000_000, description="Tokens per answer when the request sets no limit."
    )
    output_tokens_std: float = Field(
        default=0.0, ge=0, le=1_000_000, description="Standard deviation of output tokens."
    )
    max_concurrent_requests: int | None = Field(
        default=None, ge=1, le=100_000, description="Requests served at once; more wait (simulates saturation)."
    )
    fail_after_requests: int | None = Field(
        default=None, ge=0, le=MAX_COUNT, description="Answer HTTP 500 after this many requests (simulates failures)."
    )

    def cli_args(self) -> list[str]:
        """The ``guidellm mock-server`` options for these settings (host and port are added by the caller)."""
        args = [
            "--model", self.model,
            "--ttft-ms", f"{self.ttft_ms:g}",
            "--ttft-ms-std", f"{self.ttft_ms_std:g}",
            "--itl-ms", f"{self.itl_ms:g}",
            "--itl-ms-std", f"{self.itl_ms_std:g}",
            "--output-tokens", str(self.output_tokens),
            "--output-tokens-std", f"{self.output_tokens_std:g}",
        ]
        if self.max_concurrent_requests is not None:
            args += ["--max-concurrent-requests", str(self.max_concurrent_requests)]
        if self.fail_after_requests is not None:
            args += ["--fail-after-requests", str(self.fail_after_requests)]
        return args


class LlmLoadFields(ScenarioEntry):
    """An LLM serving load generated by GuideLLM: what to send, how fast, for how long, and where.

    ``rate`` means requests per second for ``constant`` and ``poisson``, concurrent streams for
    ``concurrent`` and the number of benchmarks for ``sweep``; ``synchronous`` and ``throughput`` take
    none. ``stages`` (constant or poisson only) replaces ``rate`` with steps of a total rate; the last step
    holds until the entry ends.

    The entry's executor adds its own fields (its ``ExecutorOptions`` model, e.g. the Tekton executor's
    ``pipelineRunTemplate``), flat in the entry: they are split off the entry's data and validated into
    that model (``executor_options``), written back by ``model_dump`` and listed in the JSON Schema, for
    every registered executor, plugins too. A field of another executor is an error naming it.
    """

    # GuideLLM's metrics; thresholds may also name the executors' operations (``threshold_operations``).
    operations: ClassVar[tuple[str, ...]] = METRIC_NAMES

    executor: str = Field(
        default="local",
        description="Where GuideLLM runs: local (child processes of the test run), tekton (PipelineRuns in a "
        "cluster) or a plugin executor's name.",
    )
    harness: str = Field(
        default="guidellm",
        description="The load generator: guidellm (default), vllm-bench (vLLM's `vllm bench serve`) or "
        "inference-perf (kubernetes-sigs); same metric names for each (perf_tests.llm.harnesses).",
    )
    target_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible server (e.g. http://host:8000); unset: the embedded "
        "guidellm mock-server on loopback.",
    )
    model: str | None = Field(
        default=None, description="Model name sent with each request; default: the server's first model."
    )
    tokenizer: str | None = Field(
        default=None,
        description="Local Hugging Face tokenizer folder (or 'hf:org/name'); default: a small one the "
        "framework builds.",
    )
    request_format: RequestFormat | None = Field(
        default=None,
        description="API of each request: chat (/v1/chat/completions, GuideLLM's default; the model needs a chat "
        "template) or completions (/v1/completions, plain prompts).",
    )
    rate_type: RateType = Field(default="constant", description=f"Load pattern: {', '.join(RATE_TYPES)}.")
    rate: float | None = Field(
        default=None,
        gt=0,
        le=_MAX_RATE,
        description="Requests/s (constant, poisson), streams (concurrent) or benchmarks (sweep, default 10).",
    )
    max_seconds: Seconds | None = Field(
        default=None, description="Seconds of load per benchmark; default: runTime (sweep: runTime / rate)."
    )
    max_requests: int | None = Field(default=None, ge=1, le=MAX_COUNT, description="Stop after this many requests.")
    max_concurrency: int | None = Field(
        default=None, ge=1, le=100_000, description="Cap on requests in flight (throughput, constant, ...)."
    )
    prompt_tokens: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Synthetic prompt length in tokens (default 128)."
    )
    output_tokens: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Synthetic answer length in tokens (default 64)."
    )
    data_file: str | None = Field(
        default=None,
        description=f"Prompts file instead of synthetic data ({', '.join(sorted(DATA_FILE_KINDS))}); looked up "
        "beside the scenario file and in test_data/llm/.",
    )
    extra_args: list[str] = Field(
        default_factory=list, description="More `guidellm run` arguments, passed through (e.g. --constraint)."
    )
    backend_options: dict[str, BackendOption] = Field(
        default_factory=dict,
        description="More keys of GuideLLM's --backend (e.g. request_format, timeout, api_key); a key naming a "
        "secret (api_key, ...token, ...password) is kept secret: masked in every results file and log.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="HTTP headers sent with every request (e.g. an API gateway key); their values are secrets, "
        "masked in every results file and log.",
    )
    stages: list[LlmStage] | None = Field(
        default=None, description="Stair-step load [{rate, duration}]: total rate per step (constant/poisson)."
    )
    mock_server: MockServerOptions | None = Field(
        default=None, description="Behaviour of the embedded mock target (only without targetUrl)."
    )
    workers: int | None = Field(
        default=None, ge=1, le=64, description="GuideLLM worker processes (default GuideLLM's 10)."
    )
    data: str | dict[str, Any] | None = Field(
        default=None,
        exclude=True,
        description="GuideLLM's spelling of the data, taken as the fields it stands for: "
        "'prompt_tokens=64,output_tokens=32' (promptTokens/outputTokens) or a file name (dataFile).",
    )
    stack: StackOptions | None = Field(
        default=None,
        description="The model server this entry deploys before its load and tears down after it (kind local-vllm "
        "or kubernetes); targetUrl then points at it. A matrix varies its fields as 'stack.<field>'.",
    )
    startup_lead: Seconds = Field(
        default=30.0,
        description="How long before its start a GuideLLM process is launched (it needs 10-20 s to start, then "
        "holds until its start); one starting sooner after the test start is launched before the test starts.",
    )
    # Resolved by ``resolve_files`` (or the runner); not fields, so a scenario file cannot set them.
    _data_path: Path | None = PrivateAttr(default=None)
    _executor_options: ExecutorOptions = PrivateAttr(default_factory=ExecutorOptions)
    _tokenizer_path: Path | None = PrivateAttr(default=None)
    _stack_after: str | None = PrivateAttr(default=None)

    @property
    def stack_after(self) -> str | None:
        """The entry whose stack must be torn down before this one deploys (set by the matrix expansion)."""
        return self._stack_after

    def follow(self, previous: ScenarioEntry) -> None:
        """Expanded from the same matrix as ``previous``: with a stack, deploy only once its stack is gone."""
        if self.stack is not None and getattr(previous, "stack", None) is not None:
            self._stack_after = previous.name

    @property
    def data_path(self) -> Path | None:
        """The data file found for ``dataFile``."""
        return self._data_path

    @data_path.setter
    def data_path(self, value: Path | None) -> None:
        self._data_path = value

    @property
    def tokenizer_path(self) -> Path | None:
        """The tokenizer folder found for ``tokenizer``."""
        return self._tokenizer_path

    @tokenizer_path.setter
    def tokenizer_path(self, value: Path | None) -> None:
        self._tokenizer_path = value

    # -- single fields ------------------------------------------------------------------------------
    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        if value not in EXECUTORS:
            raise ValueError(f"unknown executor {value!r}; available: {', '.join(EXECUTORS.names())}")
        return value

    @field_validator("harness")
    @classmethod
    def _known_harness(cls, value: str) -> str:
        from perf_tests.llm.harnesses.registry import HARNESSES  # the harness modules import this one

        if value not in HARNESSES:
            raise ValueError(f"unknown harness {value!r}; available: {', '.join(HARNESSES.names())}")
        return value

    @field_validator("target_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL; give the server's base URL, e.g. "
                             "http://127.0.0.1:8000")
        if parts.query or parts.fragment:
            raise ValueError("give the base URL without a query or fragment")
        if parts.path.rstrip("/").endswith("/v1"):
            raise ValueError(f"give the base URL without /v1 (GuideLLM adds /v1/chat/completions): "
                             f"{url.removesuffix('/v1')}")
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ValueError(f"{value!r} has an invalid port") from None
        return url

    @field_validator("model", "tokenizer", "data_file")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; leave the field out for the default")
        return value.strip() if value is not None else None

    @field_validator("rate")
    @classmethod
    def _rate_for_type(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        kind = info.data.get("rate_type")
        if kind in ("synchronous", "throughput"):
            raise ValueError(f"rateType {kind} takes no rate; remove 'rate'")
        if kind == "concurrent" and value != int(value):
            raise ValueError("rateType concurrent takes the number of concurrent streams (an integer)")
        if kind == "sweep" and (value != int(value) or value < 2):
            raise ValueError("rateType sweep takes the number of benchmarks (an integer >= 2)")
        return value

    @field_validator("max_seconds")
    @classmethod
    def _within_run_time(cls, value: float | None, info: ValidationInfo) -> float | None:
        run_time = info.data.get("run_time")
        if value is not None and isinstance(run_time, float) and value > run_time + 1e-9:
            raise ValueError(f"{value:g}s is longer than runTime ({run_time:g}s); the entry is stopped at its end")
        return value

    @field_validator("max_concurrency")
    @classmethod
    def _concurrency_applies(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("rate_type")
        if value is not None and kind in ("synchronous", "concurrent"):
            raise ValueError(f"does not apply to rateType {kind}")
        return value

    @field_validator("data_file")
    @classmethod
    def _known_suffix(cls, value: str | None) -> str | None:
        if value is not None and Path(value).suffix.lower() not in DATA_FILE_KINDS:
            raise ValueError(f"{value!r}: unsupported file type; use one of {', '.join(sorted(DATA_FILE_KINDS))}")
        return value

    @field_validator("max_seconds", "startup_lead")
    @classmethod
    def _positive_seconds(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @field_validator("extra_args")
    @classmethod
    def _no_reserved(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("harness", "guidellm") != "guidellm":
            return value  # passed through to that harness's own command line
        for arg in value:
            flag = arg.split("=", 1)[0]
            if flag in RESERVED_ARGS:
                raise ValueError(
                    f"{flag} is set by the framework; use the entry's fields (targetUrl, model, tokenizer, "
                    "rateType, rate, stages, promptTokens/outputTokens or dataFile) instead"
                )
        return value

    @field_validator("backend_options")
    @classmethod
    def _no_core_backend_keys(cls, value: dict[str, BackendOption]) -> dict[str, BackendOption]:
        for key in ("kind", "target", "model", "extras"):
            if key in value:
                raise ValueError(f"'{key}' is set by the framework; use targetUrl, model and headers")
        secret = {}
        for key, option in value.items():
            # An API key for the model server is a secret: typed so, no dump or log shows it.
            if isinstance(option, str) and is_secret_key(key):
                option = SecretStr(option)
            if isinstance(option, SecretStr):
                register_secret(option.get_secret_value())  # and redacted wherever it is echoed
            secret[key] = option
        return secret

    @field_validator("headers")
    @classmethod
    def _header_values(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, header in value.items():
            if not name.strip() or any(char in name for char in ":\r\n"):
                raise ValueError(f"{name!r} is not a header name")
            if any(char in header.get_secret_value() for char in "\r\n"):
                raise ValueError(f"the value of header {name!r} contains a line break")  # never echo the value
            register_secret(header.get_secret_value())
        return value

    # -- combinations -------------------------------------------------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _guidellm_data(cls, data: Any) -> Any:
        """GuideLLM's own ``data`` spelling: ``"prompt_tokens=64,output_tokens=32"`` (or that as an object, or
        JSON) for synthetic prompts, or a file name for ``dataFile``."""
        if not isinstance(data, dict) or data.get("data") is None:
            return data
        data = dict(data)
        return {**data, **guidellm_data_fields(data.pop("data"), data)}

    @model_validator(mode="before")
    @classmethod
    def _run_time_from_stages(cls, data: Any) -> Any:
        """With ``stages`` and no ``runTime``, the entry lasts as long as its steps."""
        if isinstance(data, dict) and "runTime" not in data and "run_time" not in data:
            stages = data.get("stages")
            if isinstance(stages, list) and stages:
                try:
                    total = sum(LlmStage.model_validate(stage).duration for stage in stages)
                except ValueError:  # the stage's own error is reported by the field
                    return data
                data = {**data, "runTime": f"{total}s"}
        return data

    # -- the executor's own fields ------------------------------------------------------------------
    @model_validator(mode="wrap")
    @classmethod
    def _executor_fields(cls, data: Any, handler: ModelWrapValidatorHandler[LlmLoadFields]) -> LlmLoadFields:
        """Split the executor's fields off, validate them into its options model, let it check the entry."""
        if not isinstance(data, dict):
            return handler(data)
        chosen = data.get("executor", "local")
        rest = dict(data)
        own: dict[str, Any] = {}
        for name, executor_class in EXECUTORS.load().items():
            keys = executor_class.options_model.field_keys()
            given = [key for key in rest if key in keys]
            if not given:
                continue
            if name != chosen:
                raise ValueError(f'{" and ".join(given)} apply only to "executor": "{name}"')
            own = {key: rest.pop(key) for key in given}
        entry = handler(rest)
        options_model = EXECUTORS.get(entry.executor).options_model
        try:
            options = options_model.model_validate(own)
        except ValidationError as exc:
            raise ValueError("; ".join(
                f"field {'.'.join(str(part) for part in error['loc'])!r}: {error['msg']}" for error in exc.errors()
            )) from None
        entry._executor_options = options
        options.executor_problems(entry)
        return entry

    @model_serializer(mode="wrap")
    def _dump_executor_fields(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """The executor's fields go back into the entry's data, flat, as a scenario file gives them."""
        data = handler(self)
        if isinstance(data, dict):
            data.update(self._executor_options.model_dump(
                mode=info.mode, by_alias=bool(info.by_alias), exclude_none=info.exclude_none,
                exclude_unset=info.exclude_unset, exclude_defaults=info.exclude_defaults))
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The entry's schema lists every registered executor's fields beside its own."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        if handler.mode == "validation" and "properties" in target:
            for _, executor_class in sorted(EXECUTORS.load().items()):
                options_model = executor_class.options_model
                if options_model.model_fields:
                    own = handler.resolve_ref_schema(handler(options_model.__pydantic_core_schema__))
                    target["properties"].update(own.get("properties", {}))
            matrix_json_schema(target, cls)  # the executors' fields are matrix factors too
        return schema

    @classmethod
    def threshold_operations(cls) -> tuple[str, ...]:
        """GuideLLM's metrics and every registered executor's own operations (tekton_queue, tekton_run...)."""
        executors = EXECUTORS.load().values()
        return (*cls.operations, *(name for executor in executors for name in executor.options_model.operations))

    @classmethod
    def extra_field_aliases(cls) -> tuple[str, ...]:
        """The registered executors' fields (allowed in the entry, not fields of this model)."""
        return tuple(sorted({key for executor in EXECUTORS.load().values()
                             for key in executor.options_model.field_aliases()}))

    @property
    def executor_options(self) -> ExecutorOptions:
        """The entry's executor's own fields, as that executor's options model."""
        return self._executor_options

    def executor_options_as(self, model: type[ExecutorOptionsT]) -> ExecutorOptionsT:
        """``executor_options`` as ``model`` (the executor's own model); ``TypeError`` when it is another."""
        options = self._executor_options
        if not isinstance(options, model):
            raise TypeError(f"entry {self.name!r} has {type(options).__name__} options (executor {self.executor}), "
                            f"not {model.__name__}")
        return options

    @model_validator(mode="after")
    def _combinations(self) -> LlmLoadFields:
        self._check_rate()
        if self.stages is not None:
            self._check_stages()
        if self.data_file is not None and (self.prompt_tokens is not None or self.output_tokens is not None):
            raise ValueError("give either dataFile or promptTokens/outputTokens (synthetic data), not both")
        if self.request_format is not None and "request_format" in self.backend_options:
            raise ValueError("give either requestFormat or backendOptions.request_format, not both")
        if self.target_url is not None and self.mock_server is not None:
            raise ValueError("mockServer applies only to the embedded mock target; remove it or targetUrl")
        if self.stack is not None:
            if self.target_url is not None or self.mock_server is not None:
                raise ValueError("a stack sets the target itself; remove targetUrl and mockServer")
            if self.stack.kind == "local-vllm" and self.executor != "local":
                raise ValueError(f"stack kind local-vllm listens on this machine's loopback, which executor "
                                 f"{self.executor} cannot reach; use kind kubernetes")
        self._check_harness()
        return self

    def _check_harness(self) -> None:
        from perf_tests.llm.harnesses.registry import HARNESSES

        problems = HARNESSES.get(self.harness)().entry_problems(self)
        if problems:
            raise ValueError(f"harness {self.harness}: " + "; ".join(problems))

    def _check_rate(self) -> None:
        kind = self.rate_type
        if kind == "concurrent" and self.rate is None:
            raise ValueError("rateType concurrent needs 'rate': the number of concurrent streams")
        if kind in ("constant", "poisson") and self.stages is None and self.rate is None:
            raise ValueError(f"rateType {kind} needs 'rate' (requests per second) or 'stages'")

    def _check_stages(self) -> None:
        assert self.stages is not None
        if self.rate_type not in ("constant", "poisson"):
            raise ValueError(f"stages need rateType constant or poisson, not {self.rate_type}")
        if self.rate is not None:
            raise ValueError("give either 'rate' or 'stages', not both")
        if not self.stages:
            raise ValueError("'stages' needs at least one step")
        if not any(stage.rate > 0 for stage in self.stages):
            raise ValueError("every step of 'stages' has rate 0")
        total = sum(stage.duration for stage in self.stages)
        if total > self.run_time + 1e-9:
            raise ValueError(
                f"the steps of 'stages' last {total:g}s, longer than runTime ({self.run_time:g}s); the last "
                "step holds until the entry ends, so runTime must be at least their sum"
            )
        if self.max_seconds is not None or self.max_requests is not None:
            raise ValueError("maxSeconds and maxRequests do not combine with stages (each step has a duration)")

    # -- derived values -----------------------------------------------------------------------------
    @property
    def secret_values(self) -> list[str]:
        """The real values of the entry's secrets (API key, header values): for GuideLLM only, never shown."""
        values = [option.get_secret_value() for option in self.backend_options.values()
                  if isinstance(option, SecretStr)]
        values += [header.get_secret_value() for header in self.headers.values()]
        return [value for value in values if value]

    @property
    def uses_mock(self) -> bool:
        """True when the load goes to the embedded mock server."""
        return self.target_url is None and self.stack is None

    @property
    def mock(self) -> MockServerOptions:
        """The mock server's settings (defaults when not given)."""
        return self.mock_server or MockServerOptions()

    @property
    def synthetic(self) -> bool:
        """True for synthetic prompts (no dataFile)."""
        return self.data_file is None

    @property
    def effective_prompt_tokens(self) -> int:
        return self.prompt_tokens if self.prompt_tokens is not None else 128

    @property
    def effective_output_tokens(self) -> int:
        return self.output_tokens if self.output_tokens is not None else 64

    @property
    def sweep_size(self) -> int:
        return int(self.rate) if self.rate is not None else 10

    # -- files --------------------------------------------------------------------------------------
    def check_files(self, files: EntryFiles) -> list[str]:
        problems = self.executor_options.executor_file_problems(self, files)  # e.g. pipelineRunTemplate
        if self.data_file is not None:
            found = files.find(self.data_file, "llm")
            if found is None:
                looked = ", ".join(str(p) for p in files.candidates(self.data_file, "llm"))
                problems.append(f"field 'dataFile': data file {self.data_file!r} not found (looked in {looked})")
            elif (reason := data_file_problem(found)) is not None:
                problems.append(f"field 'dataFile': {found}: {reason}")
        if self.tokenizer is not None and not self.tokenizer.startswith(HUB_TOKENIZER_PREFIX):
            folder = _find_folder(self.tokenizer, files)
            if folder is None:
                looked = ", ".join(str(p) for p in files.candidates(self.tokenizer, "llm"))
                problems.append(
                    f"field 'tokenizer': tokenizer folder {self.tokenizer!r} not found (looked in {looked}); "
                    f"give a local Hugging Face tokenizer folder, '{HUB_TOKENIZER_PREFIX}org/name' for a hub "
                    "id, or leave it out for the built-in one"
                )
            elif not _looks_like_tokenizer(folder):
                problems.append(
                    f"field 'tokenizer': {folder} has no tokenizer files (tokenizer.json, tokenizer_config.json "
                    "or vocab.json); save one with tokenizer.save_pretrained(folder)"
                )
        return problems

    def resolve_files(self, files: EntryFiles) -> None:
        self.executor_options.resolve_executor_files(self, files)
        if self.data_file is not None:
            self.data_path = files.find(self.data_file, "llm")
        if self.tokenizer is not None and not self.tokenizer.startswith(HUB_TOKENIZER_PREFIX):
            self.tokenizer_path = _find_folder(self.tokenizer, files)


_TEXT_COLUMN = re.compile(
    r"^(prompt|instruction|question|input|context|content|conversation|turn|text|messages|chat_messages)s?"
    r"([-_]?\d+)?$",
    re.IGNORECASE,
)
"""Column names GuideLLM's generative column mapper takes the prompt from (plural and turn suffixes too)."""


_DATA_KEYS = {"prompt_tokens": "promptTokens", "output_tokens": "outputTokens"}


def guidellm_data_fields(value: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The entry fields that GuideLLM's ``--data`` value ``value`` stands for (``ValueError`` when it cannot
    be taken, naming the fields to use instead); ``given`` is the rest of the entry, to refuse conflicts."""
    if isinstance(value, str):
        text = value.strip()
        if "=" not in text and not text.startswith("{"):
            if given.get("dataFile") is not None or given.get("data_file") is not None:
                raise ValueError("give either 'data' or 'dataFile', not both")
            return {"dataFile": text, "data": None}
        pairs = _parse_data_text(text)
    elif isinstance(value, dict):
        pairs = dict(value)
    else:
        raise ValueError("'data' takes GuideLLM's form, e.g. \"prompt_tokens=64,output_tokens=32\", or a file name")
    kind = pairs.pop("kind", "synthetic_text")
    if kind != "synthetic_text":
        raise ValueError(f"'data' of kind {kind!r} is not taken; give a data file as dataFile, or synthetic data "
                         "as promptTokens/outputTokens")
    unknown = sorted(set(pairs) - set(_DATA_KEYS))
    if unknown:
        raise ValueError(f"'data' key {unknown[0]!r} is not supported; the entry takes prompt_tokens and "
                         "output_tokens (or the fields promptTokens/outputTokens), or a data file (dataFile)")
    fields: dict[str, Any] = {"data": None}
    for key, field_name in _DATA_KEYS.items():
        if key in pairs:
            snake = "prompt_tokens" if field_name == "promptTokens" else "output_tokens"
            if given.get(field_name) is not None or given.get(snake) is not None:
                raise ValueError(f"give {key} either in 'data' or as {field_name}, not both")
            fields[field_name] = pairs[key]
    return fields


def _parse_data_text(text: str) -> dict[str, Any]:
    """``key=value,...`` (values read as YAML) or a JSON object, as GuideLLM's CLI reads ``--data``."""
    try:
        if text.startswith("{"):
            parsed = json.loads(text)
        else:
            parsed = {}
            for pair in text.split(","):
                key, sep, raw = pair.partition("=")
                if not sep or not key.strip():
                    raise ValueError(pair)
                parsed[key.strip()] = yaml.safe_load(raw.strip())
    except (ValueError, yaml.YAMLError):
        raise ValueError(f"'data' {text[:80]!r} is not GuideLLM's form key=value,... (e.g. "
                         "\"prompt_tokens=64,output_tokens=32\") or a JSON object") from None
    if not isinstance(parsed, dict):
        raise ValueError("'data' must be key=value pairs or a JSON object")
    return parsed


def is_secret_key(key: str) -> bool:
    """True for a ``backendOptions`` key that holds a secret (``api_key``, ``...token``, ...)."""
    return is_secret_name(key)


def data_file_problem(path: Path) -> str | None:
    """Why GuideLLM could not take prompts from ``path`` (a first-rows check of JSON, JSONL and CSV), or None.

    GuideLLM skips rows it cannot use, one by one, and so waits forever on a file with no usable row;
    checking here turns that into an error at load.
    """
    suffix = path.suffix.lower()
    if suffix not in (".json", ".jsonl", ".csv"):
        return None
    columns_hint = "prompt, text, question, instruction, input, content or messages"
    try:
        with path.open(encoding="utf-8") as handle:
            if suffix == ".csv":
                header = next(csv.reader(handle), [])
                columns = [str(name).strip() for name in header]
            elif suffix == ".jsonl":
                line = next((line for line in handle if line.strip()), "")
                row = json.loads(line) if line else None
                columns = list(row) if isinstance(row, dict) else []
            else:
                data = json.load(handle)
                first = data[0] if isinstance(data, list) and data else data
                columns = list(first) if isinstance(first, dict) else []
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"cannot be read as {suffix[1:].upper()} ({exc})"
    if not columns:
        return f"has no rows of named fields; each row needs a prompt field ({columns_hint})"
    if not any(_TEXT_COLUMN.match(name) for name in columns):
        return f"no prompt field among {', '.join(map(str, columns[:8]))}; name one {columns_hint}"
    return None


def _find_folder(name: str, files: EntryFiles) -> Path | None:
    for candidate in files.candidates(name, "llm"):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _looks_like_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json"))
