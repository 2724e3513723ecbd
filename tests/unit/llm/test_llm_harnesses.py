"""Harnesses: the registry, each harness's command/config from an entry, parsing of native results into
the same metric names, and what a harness cannot do rejected when the scenario loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.errors import RunnerError, ScenarioError
from perf_tests.llm.harnesses import HARNESSES
from perf_tests.llm.harnesses.inference_perf import inference_perf_config, parse_reports
from perf_tests.llm.harnesses.vllm_bench import parse_result
from perf_tests.llm.results.merging import summarize
from perf_tests.models.scenario_file import build_scenario
from perf_tests.runners.registry import options_models

DATA_DIR = Path(__file__).resolve().parents[3] / "test_data"


def entry(**fields: Any) -> Any:
    base = {"mode": "LLM_LOAD", "startTime": 0, "runTime": "8s", "rateType": "poisson", "rate": 2, "targetUrl": "http://127.0.0.1:1"}
    return build_scenario([{**base, **fields}], options_models(), DATA_DIR).entries[0]


def test_the_three_harnesses_are_registered_and_guidellm_is_the_default() -> None:
    assert HARNESSES.names() == ("guidellm", "inference-perf", "vllm-bench")
    assert entry().harness == "guidellm"


def test_an_unknown_harness_lists_the_registered_ones() -> None:
    known = "guidellm, inference-perf, vllm-bench"
    with pytest.raises(ScenarioError, match=f"unknown harness 'locust'; available: {known}"):
        entry(harness="locust")


@pytest.mark.parametrize(("harness", "fields", "message"), [
    ("vllm-bench", {"rateType": "constant"}, "field 'rateType': vllm-bench takes rateType poisson"),
    ("vllm-bench", {"rate": None, "rateType": "throughput"}, "field 'maxRequests'"),
    ("inference-perf", {"rate": None, "rateType": "sweep"}, "field 'rateType': inference-perf takes"),
    ("inference-perf", {"headers": {"x-key": "v"}}, "field 'headers'"),
    ("inference-perf", {"backendOptions": {"api_key": "sk-1234"}}, "field 'backendOptions'"),
    ("vllm-bench", {"backendOptions": {"api_key": "sk-1234", "timeout": 5}}, "vllm-bench takes only api_key"),
])
def test_what_a_harness_cannot_do_is_a_scenario_error_naming_the_field(harness: str, fields: dict[str, Any],
                                                                       message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        entry(harness=harness, **fields)


def test_vllm_bench_command_uses_the_module_entry_point_and_the_local_tokenizer(tmp_path: Path) -> None:
    harness = HARNESSES.get("vllm-bench")()
    the_entry = entry(harness="vllm-bench", promptTokens=32, outputTokens=16, requestFormat="completions")
    launch = harness.plan(the_entry)[0]
    assert launch.label == "vllm-bench"
    try:
        command = harness.build(the_entry, launch, target_url="http://h:1", tokenizer="/tok",
                                output_path=tmp_path / "vllm-bench.json")
    except RunnerError as exc:  # no .venv-vllm on this machine
        pytest.skip(str(exc))
    assert command.launch is not None and command.launch[-1].endswith("held_start.py")
    assert "-I" in command.launch  # isolated: its folder holds inference_perf.py, which must not shadow the tool
    args = list(command.args)
    assert args[0] == "vllm-bench-serve"
    assert args[args.index("--tokenizer") + 1] == "/tok"
    assert args[args.index("--num-prompts") + 1] == "16"  # 2 req/s x 8 s
    assert args[args.index("--request-rate") + 1] == "2"
    assert "--save-detailed" in args and command.env["HF_HUB_OFFLINE"] == "1"


def test_vllm_bench_gets_the_api_key_from_its_environment_never_its_command_line(tmp_path: Path) -> None:
    harness = HARNESSES.get("vllm-bench")()
    the_entry = entry(harness="vllm-bench", backendOptions={"api_key": "sk-bench-SECRET-7d1"})
    try:
        command = harness.build(the_entry, harness.plan(the_entry)[0], target_url="http://h:1", tokenizer="/tok",
                                output_path=tmp_path / "vllm-bench.json")
    except RunnerError as exc:  # no .venv-vllm on this machine
        pytest.skip(str(exc))
    assert command.secret_env == {"OPENAI_API_KEY": "sk-bench-SECRET-7d1"}  # what vLLM's request functions read
    for shown in (" ".join(command.argv()), command.shell(), repr(command), repr(command.options), str(command.env)):
        assert "sk-bench-SECRET-7d1" not in shown


def test_inference_perf_config_has_its_load_stages_api_type_and_data(tmp_path: Path) -> None:
    harness = HARNESSES.get("inference-perf")()
    the_entry = entry(harness="inference-perf", rateType="constant", rate=None, requestFormat="chat",
                      stages=[{"rate": 1, "duration": 4}, {"rate": 3, "duration": 4}], promptTokens=32)
    launch = harness.plan(the_entry)[0]
    config = inference_perf_config(the_entry, launch, target_url="http://h:1", tokenizer="/tok", report_dir=tmp_path)
    assert config["load"]["type"] == "constant" and config["load"]["interval"] == 0
    assert config["load"]["stages"] == [{"rate": 1.0, "duration": 4}, {"rate": 3.0, "duration": 4}]
    assert config["api"] == {"type": "chat", "streaming": True}
    assert config["data"]["input_distribution"]["mean"] == 32
    assert config["tokenizer"] == {"pretrained_model_name_or_path": "/tok"}
    yaml.safe_load(yaml.safe_dump(config))


def test_vllm_bench_result_becomes_the_framework_metrics(tmp_path: Path) -> None:
    path = tmp_path / "vllm-bench.json"
    path.write_text(json.dumps({
        "duration": 2.0, "completed": 2, "failed": 1, "request_throughput": 1.0, "output_throughput": 4.0,
        "total_input_tokens": 20, "request_rate": 2.0,
        "ttfts": [0.1, 0.3, 0.0], "itls": [[0.01, 0.03], [0.02, 0.02], []], "latencies": [0.2, 0.4, 0.0],
        "start_times": [100.0, 100.5, 101.0], "input_lens": [10, 10, 10], "output_lens": [3, 3, 0],
        "errors": ["", "", "HTTP 500"],
    }), encoding="utf-8")
    results = summarize([parse_result(path, clock_offset=1000.0)])
    metrics = results.metrics()
    assert (results.successful, results.errored) == (2, 1)
    assert metrics["ttft"]["p50_ms"] == pytest.approx(100.0) and metrics["ttft"]["max_ms"] == pytest.approx(300.0)
    assert metrics["itl"]["samples"] == 4  # every streamed gap, vLLM's definition
    assert metrics["tpot"]["mean_ms"] == pytest.approx(((0.1 / 2) + (0.1 / 2)) / 2 * 1000)
    assert metrics["requests"]["throughput"] == 1.0
    assert "request_scheduled_latency" not in metrics
    assert results.requests[0].start == pytest.approx(1100.0)
    assert HARNESSES.get("vllm-bench")().not_measured() == {
        "request_scheduled_latency": "not measured by vllm-bench"}


def test_inference_perf_reports_become_the_framework_metrics(tmp_path: Path) -> None:
    (tmp_path / "summary_lifecycle_metrics.json").write_text(json.dumps(
        {"load_summary": {"count": 2, "requested_rate": 2.0, "achieved_rate": 1.9}}), encoding="utf-8")
    ok = {"start_time": 10.0, "end_time": 10.5, "error": None, "info": {}, "computed_metrics": {
        "request_latency": 0.5, "time_to_first_token": 0.1, "time_per_output_token": 0.2,
        "inter_token_latency": 0.2, "inter_token_latencies": [0.2, 0.2], "input_tokens": 32, "output_tokens": 3}}
    failed = {"start_time": 11.0, "end_time": 11.1, "error": {"error_type": "HTTPError", "error_msg": "HTTP 503"},
              "info": {}}
    (tmp_path / "per_request_lifecycle_metrics.json").write_text(json.dumps([ok, failed]), encoding="utf-8")
    results = summarize([parse_reports(tmp_path, clock_offset=0.0)])
    metrics = results.metrics()
    assert (results.successful, results.errored) == (1, 1)
    assert metrics["ttft"]["mean_ms"] == pytest.approx(100.0)
    assert metrics["request_latency"]["mean_ms"] == pytest.approx(500.0)
    assert metrics["prompt_tokens"]["mean"] == 32
    assert results.requests[1].error == "HTTP 503"


def test_a_threshold_on_a_metric_the_harness_does_not_measure_fails_with_that_reason() -> None:
    from perf_tests.results import ScenarioPart
    from perf_tests.thresholds.evaluate import measure
    from perf_tests.thresholds.parser import parse_threshold

    part = ScenarioPart.model_validate({"name": "llm", "operations": {"request_scheduled_latency": {
        "not_measured": "not measured by vllm-bench", "source": "vllm-bench"}}})
    value, why = measure(part, parse_threshold("p99(request_scheduled_latency) < 1s"))
    assert value is None
    assert why == "request_scheduled_latency is not measured by vllm-bench"


def test_inference_perf_takes_a_poisson_entry_as_its_constant_load_that_fills_the_stage(tmp_path: Path) -> None:
    # inference-perf's own "poisson" draws a count per second: 16 requests then take 5 to 12 s, not the 8 s
    # offered. Its "constant" sends rate x duration requests at exponential gaps scaled to the stage.
    harness = HARNESSES.get("inference-perf")()
    the_entry = entry(harness="inference-perf", rateType="poisson", rate=2, runTime="8s")
    config = inference_perf_config(the_entry, harness.plan(the_entry)[0], target_url="http://h:1", tokenizer=None,
                                   report_dir=tmp_path)
    assert config["load"]["type"] == "constant"
    assert config["load"]["stages"] == [{"rate": 2.0, "duration": 8}]


HOLD_PROBE = """
import sys, time
sys.path.insert(0, sys.argv[1])
import held_start

class Tool:
    calls = []
    def stage(self, n):
        self.calls.append((n, time.time()))

held_start.hold_before(Tool, "stage", lead=float(sys.argv[2]))
tool = Tool()
tool.stage(1)
tool.stage(2)  # the window is read once: a second read would find no input and end the process (exit 3)
print(" ".join(str(n) for n, _ in Tool.calls))
"""


def test_held_start_holds_the_first_call_only_released_its_lead_early(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from perf_tests.llm.harnesses.venvs import HELD_START

    read_end, write_end = os.pipe()
    start = time.time() + 1000.0
    try:
        done = subprocess.run(
            [sys.executable, "-c", HOLD_PROBE, str(HELD_START.parent), "1000.5"],
            input=f"window {start:.6f} {start + 8:.6f}\n", capture_output=True, text=True, timeout=60,
            env={**os.environ, "PERF_TESTS_READY_FD": str(write_end)}, pass_fds=(write_end,), check=False,
        )
    finally:
        os.close(write_end)
        ready = os.read(read_end, 100).decode()
        os.close(read_end)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "2"]
    assert ready.startswith("ready ")
    # Due 1000 s from now, released 1000.5 s early: half a second late for its (early) release, and the load
    # it reports starting is the one its lead brings on time.
    late = float(done.stderr.split("s late")[0].rsplit(", ", 1)[1])
    assert 0.5 <= late < 10
    load_start = float(done.stderr.split("load starts at ")[1].split()[0])
    assert load_start == pytest.approx(start + late, abs=0.01)
