"""The one GuideLLM command builder: every rate type, data, limits and pass-through arguments, rendered so
that GuideLLM's own CLI parser and argument schema read back exactly the options we meant."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from perf_tests.errors import ScenarioError
from perf_tests.llm.command import (
    BACKEND_SECRETS_ENV,
    OFFLINE_ENV,
    SECRETS_ENV,
    GuidellmCommand,
    build_command,
    launch_seed,
    render_option,
    reveal,
)
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.plan import plan_launches
from perf_tests.llm.process.backend_secrets import merge_backend_secrets
from perf_tests.models.scenario_file import build_scenario
from perf_tests.runners.registry import options_models

DATA_DIR = Path(__file__).resolve().parents[3] / "test_data"


def entry(**fields: Any) -> LlmLoadFields:
    return LlmLoadFields.model_validate(
        {"mode": "LLM_LOAD", "name": "cmd", "startTime": 0, "runTime": "30s", **fields})


def command(the_entry: LlmLoadFields, index: int = 0, tokenizer: str | None = "/tok") -> GuidellmCommand:
    launch = plan_launches(the_entry)[index]
    return build_command(the_entry, launch, target_url="http://127.0.0.1:8000", tokenizer=tokenizer,
                         output_path="/out/guidellm.json", data_path=the_entry.data_path)


def flag_values(cmd: GuidellmCommand, flag: str) -> list[str]:
    """The values of ``flag`` GuideLLM's CLI reads: the arguments with the launcher's secrets merged in."""
    args = merge_backend_secrets(cmd.args, cmd.secret_env.get(BACKEND_SECRETS_ENV))
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


API_KEY = "sk-unit-SECRET-91f3"
HEADER = "hdr-unit-SECRET-27ab"
CASES: list[dict[str, Any]] = [
    {"rate": 5},
    {"rate": 1, "backendOptions": {"api_key": API_KEY, "timeout": 5}, "headers": {"X-Gateway-Key": HEADER}},
    {"rate": 1, "requestFormat": "completions"},
    {"rate": 1, "requestFormat": "chat"},
    {"rateType": "poisson", "rate": 2.5, "maxConcurrency": 16},
    {"rateType": "synchronous", "maxRequests": 20},
    {"rateType": "throughput"},
    {"rateType": "throughput", "maxConcurrency": 8, "maxSeconds": "12.5s"},
    {"rateType": "concurrent", "rate": 4},
    {"rateType": "sweep", "rate": 3},
    {"rate": 1, "model": "my-model", "backendOptions": {"request_format": "/v1/completions", "timeout": 30}},
    {"rate": 1, "dataFile": str(DATA_DIR / "llm" / "prompts.jsonl")},
    {"rate": 1, "promptTokens": 1024, "outputTokens": 2048, "workers": 2},
    {"stages": [{"rate": 1, "duration": "10s"}, {"rate": 3, "duration": "10s"}]},
]


@pytest.mark.parametrize("fields", CASES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
def test_command_encodes_the_entry(fields: dict[str, Any]) -> None:
    the_entry = entry(**fields)
    if the_entry.data_file is not None:
        the_entry.data_path = Path(the_entry.data_file)
    for index, launch in enumerate(plan_launches(the_entry)):
        cmd = command(the_entry, index)
        options = cmd.options
        assert cmd.args[0] == "run"
        assert options["--backend"]["target"] == "http://127.0.0.1:8000"
        assert options["--output"] == [{"kind": "json", "path": "/out/guidellm.json"}]
        assert options["--tokenizer"] == {"kind": "huggingface_auto", "model": "/tok"}
        profile = options["--profile"]
        assert profile["kind"] == the_entry.rate_type
        if the_entry.rate_type in ("constant", "poisson"):
            assert profile["rate"] == launch.rate
        [max_duration] = [c for c in options["--constraint"] if c["kind"] == "max_duration"]
        expected = the_entry.max_seconds or (launch.duration / the_entry.sweep_size
                                              if the_entry.rate_type == "sweep" else launch.duration)
        assert max_duration["seconds"] == pytest.approx(expected)
        assert options["--seed"] == {"kind": "static", "value": launch_seed("cmd", launch)}
        assert dict(OFFLINE_ENV).items() <= dict(cmd.env).items()
        # Every structured option is in the argument list, in a form that reads back to it.
        for flag, value in options.items():
            rendered = flag_values(cmd, flag)
            items = value if isinstance(value, list) else [value]
            assert len(rendered) == len(items)


def test_specific_encodings() -> None:
    assert command(entry(rateType="concurrent", rate=4)).options["--profile"] == {"kind": "concurrent", "streams": 4}
    assert command(entry(rateType="throughput")).options["--profile"] == {"kind": "throughput",
                                                                           "max_concurrency": None}
    assert command(entry(rateType="sweep", rate=3)).options["--profile"] == {"kind": "sweep", "sweep_size": 3}
    limits = command(entry(rateType="synchronous", maxRequests=20)).options["--constraint"]
    assert {"kind": "max_requests", "count": 20} in limits
    data = command(entry(rate=1, promptTokens=7, outputTokens=3)).options["--data"]
    assert data == [{"kind": "synthetic_text", "prompt_tokens": 7, "output_tokens": 3}]
    jsonl = entry(rate=1, dataFile="prompts.jsonl")
    jsonl.data_path = DATA_DIR / "llm" / "prompts.jsonl"
    assert command(jsonl).options["--data"] == [{"kind": "json_file", "path": str(jsonl.data_path)}]
    assert command(entry(rate=1, workers=2)).env["GUIDELLM__MAX_WORKER_PROCESSES"] == "2"


def test_open_loop_rates_get_a_small_pending_buffer() -> None:
    """GuideLLM would create 5120 requests ahead and cancel them one by one at the end."""
    assert command(entry(rate=2)).env["GUIDELLM__MP_MAX_PENDING_BUFFER_PERCENT"] == "0.00625"  # 64 requests
    assert command(entry(rateType="poisson", rate=100)).env["GUIDELLM__MP_MAX_PENDING_BUFFER_PERCENT"] == "0.0488281"
    for fields in ({"rate": 2, "maxConcurrency": 8}, {"rateType": "concurrent", "rate": 2},
                   {"rateType": "throughput"}, {"rateType": "synchronous"}):
        assert "GUIDELLM__MP_MAX_PENDING_BUFFER_PERCENT" not in command(entry(**fields)).env


def test_extra_args_pass_through_and_an_own_seed_wins() -> None:
    cmd = command(entry(rate=1, extraArgs=["--constraint", "kind=max_errors,count=5", "--seed", "kind=static,value=7"]))
    assert list(cmd.args[-4:]) == ["--constraint", "kind=max_errors,count=5", "--seed", "kind=static,value=7"]
    assert "--seed" not in cmd.options


def test_hub_tokenizer_is_not_offline_and_none_is_left_to_guidellm() -> None:
    hub = command(entry(rate=1), tokenizer="hf:org/name")
    assert hub.options["--tokenizer"] == {"kind": "huggingface_auto", "model": "org/name"}
    assert "HF_HUB_OFFLINE" not in hub.env
    assert "--tokenizer" not in command(entry(rate=1), tokenizer=None).options


def test_seeds_differ_per_layer_and_entry_but_not_per_run() -> None:
    stairs = entry(stages=[{"rate": 1, "duration": "10s"}, {"rate": 2, "duration": "10s"}])
    first, second = plan_launches(stairs)
    assert launch_seed("cmd", first) != launch_seed("cmd", second)
    assert launch_seed("cmd", first) == launch_seed("cmd", first)
    assert launch_seed("other", first) != launch_seed("cmd", first)


def test_render_option_falls_back_to_json_when_key_value_would_misread() -> None:
    assert render_option({"kind": "constant", "rate": 5.0}) == "kind=constant,rate=5.0"
    assert render_option({"kind": "throughput", "max_concurrency": None}) == "kind=throughput,max_concurrency=null"
    for tricky in ({"kind": "huggingface_auto", "model": "/a,b/tok"}, {"kind": "x", "value": "yes"},
                   {"kind": "x", "value": "a: b"}, {"kind": "x", "nested": {"a": 1}}):
        assert json.loads(render_option(tricky)) == tricky


def test_shell_line_is_copy_pasteable() -> None:
    cmd = command(entry(rate=1, workers=1), tokenizer="/a dir/tok")
    line = cmd.shell()
    assert line.startswith("GUIDELLM__MAX_WORKER_PROCESSES=1 GUIDELLM__MP_MAX_PENDING_BUFFER_PERCENT=0.00625 "
                           "HF_DATASETS_OFFLINE=1")
    words = shlex.split(line)
    assert words[words.index("guidellm"):] == cmd.argv()


@pytest.mark.llm
@pytest.mark.parametrize("fields", CASES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
def test_guidellm_reads_back_what_we_meant(fields: dict[str, Any]) -> None:
    """GuideLLM's own CLI value parser and its benchmark-argument schema accept each rendered option."""
    cli = pytest.importorskip("guidellm.utils.cli", reason="GuideLLM is not installed (the llm extra)")
    benchmark = pytest.importorskip("guidellm.schemas.benchmark")
    the_entry = entry(**fields)
    if the_entry.data_file is not None:
        the_entry.data_path = Path(the_entry.data_file)
    for index in range(len(plan_launches(the_entry))):
        cmd = command(the_entry, index)
        spec: dict[str, Any] = {}
        for flag, value in cmd.options.items():
            parsed = [cli.parse_arguments(None, None, text) for text in flag_values(cmd, flag)]
            assert parsed == reveal(value if isinstance(value, list) else [value]), flag
            key = {"--constraint": "constraints", "--output": "outputs"}.get(flag, flag.removeprefix("--"))
            spec[key] = parsed if isinstance(value, list) else parsed[0]
        benchmark.BenchmarkArgs.model_validate(spec)


def test_secrets_reach_only_the_arguments_guidellm_parses_never_its_command_line() -> None:
    the_entry = entry(rate=1, backendOptions={"api_key": API_KEY, "access_token": "tok-unit-SECRET"},
                      headers={"X-Gateway-Key": HEADER})
    cmd = command(the_entry)
    backend = json.loads(flag_values(cmd, "--backend")[0])
    assert backend["api_key"] == API_KEY and backend["extras"] == {"headers": {"X-Gateway-Key": HEADER}}
    assert json.loads(cmd.secret_env[SECRETS_ENV]) == [API_KEY, "tok-unit-SECRET", HEADER]
    assert json.loads(cmd.secret_env[BACKEND_SECRETS_ENV]) == {
        "api_key": API_KEY, "access_token": "tok-unit-SECRET", "extras": {"headers": {"X-Gateway-Key": HEADER}}}
    # The command line (cmd.args, what ps shows) holds none of them: GuideLLM gets them from secret_env.
    shown = [" ".join(cmd.args), " ".join(cmd.argv()), cmd.shell(), repr(cmd),
             json.dumps(reveal(cmd.options, mask=True)), " ".join(cmd.shown_argv()),
             the_entry.model_dump_json(), json.dumps(the_entry.model_dump(mode="json")), repr(the_entry),
             json.dumps(dict(cmd.env))]
    for text in shown:
        for secret in (API_KEY, HEADER, "tok-unit-SECRET"):
            assert secret not in text, text
    assert '"api_key":"**********"' in cmd.shell()


def test_a_header_value_with_a_line_break_is_refused_without_echoing_it() -> None:
    raw = [{"mode": "LLM_LOAD", "startTime": 0, "runTime": "5s", "rate": 1,
            "headers": {"X-Key": "hdr-unit-SECRET\r\nX-Evil: 1"}}]
    with pytest.raises(ScenarioError, match="field 'headers': the value of header 'X-Key' contains a line break"
                       ) as info:
        build_scenario(raw, options_models(), DATA_DIR)
    assert "hdr-unit-SECRET" not in str(info.value)


@pytest.mark.parametrize(("request_format", "route"), [("chat", "/v1/chat/completions"),
                                                       ("completions", "/v1/completions")])
def test_request_format_is_guidellms_request_format(request_format: str, route: str) -> None:
    cmd = command(entry(rate=1, requestFormat=request_format))
    assert cmd.options["--backend"]["request_format"] == route


def test_request_format_is_given_once() -> None:
    raw = [{"mode": "LLM_LOAD", "startTime": 0, "runTime": "5s", "rate": 1, "requestFormat": "chat",
            "backendOptions": {"request_format": "/v1/completions"}}]
    with pytest.raises(ScenarioError, match=r"give either requestFormat or backendOptions\.request_format"):
        build_scenario(raw, options_models(), DATA_DIR)
