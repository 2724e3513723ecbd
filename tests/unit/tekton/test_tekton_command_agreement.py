"""The Task's script and the local executor's command builder make the same ``guidellm run`` command.

For each entry and planned process, ``perf_tests.llm.command.build_command`` makes the command; the
Tekton executor turns it into Task params (``task_params``); the Task's ``load`` step script, run here as
Tekton would run it (``run_step``), must then call ``guidellm`` with exactly the same arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.errors import ConfigurationError
from perf_tests.llm.command import BACKEND_SECRETS_ENV, build_command
from perf_tests.llm.executors.tekton import check_entry, command_for, task_params, task_secrets
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.plan import plan_launches
from perf_tests.llm.process.backend_secrets import merge_backend_secrets
from tests.unit.tekton.test_tekton_task_script import run_step

BASE = {"mode": "LLM_LOAD", "name": "agree", "startTime": 0, "runTime": "10m",
        "targetUrl": "http://llm.ns.svc:8000"}  # fmt: skip
CASES: list[dict[str, Any]] = [
    {"rateType": "synchronous"},
    {"rateType": "synchronous", "model": "meta-llama/Llama-3.1-8B-Instruct", "maxRequests": 500},
    {"rateType": "throughput"},
    {"rateType": "throughput", "maxConcurrency": 64, "maxSeconds": 90.5},
    {"rateType": "concurrent", "rate": 8},
    {"rateType": "poisson", "rate": 2, "promptTokens": 1024, "outputTokens": 256},
    {"rateType": "constant", "rate": 0.5, "maxConcurrency": 16, "tokenizer": "hf:gpt2"},
    {"rateType": "sweep", "rate": 4},
    {"rateType": "constant", "rate": 1, "backendOptions": {"request_format": "/v1/completions", "timeout": 30}},
    {"rateType": "constant", "rate": 1, "backendOptions": {"api_key": None, "verify": False}},
    {"rateType": "constant", "rate": 1, "backendOptions": {"api_key": "sk-agree-1", "verify": False},
     "headers": {"x-gateway-key": "hdr-agree-2"}},
    {"rateType": "poisson", "rate": 3, "extraArgs": ["--constraint", "kind=max_errors,count=5"], "workers": 2},
    {"rateType": "poisson", "rate": 3, "extraArgs": ["--seed", "kind=static,value=7"]},
    # Seed 003: 0.5 -> 2 req/s in +0.5 steps every 10 minutes, then a 30-minute hold: four layers.
    {"rateType": "constant", "runTime": "60m", "promptTokens": 1024, "outputTokens": 2048,
     "stages": [{"rate": 0.5, "duration": "10m"}, {"rate": 1, "duration": "10m"}, {"rate": 1.5, "duration": "10m"},
                {"rate": 2, "duration": "30m"}]},
]  # fmt: skip


def entry(fields: dict[str, Any]) -> LlmLoadFields:
    return LlmLoadFields.model_validate({**BASE, **fields})


@pytest.mark.parametrize("fields", CASES, ids=lambda fields: ",".join(f"{k}={v}" for k, v in fields.items()))
def test_task_runs_the_builders_command(tmp_path: Path, fields: dict[str, Any]) -> None:
    the_entry = entry(fields)
    check_entry(the_entry)
    results = tmp_path / "workspace" / "results"
    for launch in plan_launches(the_entry):
        command = command_for(the_entry, launch)
        params = task_params(the_entry, launch, command)
        secret = task_secrets(command)
        for value in the_entry.secret_values:
            assert value not in repr(params), "secret values go to the Secret, never into params"
            assert value in repr(secret)
        step = run_step("load", {**params, "start-delay": "0"}, tmp_path, secret=secret or None)
        assert step.code == 0, step.stderr
        # The same command with the report where the harness mounts the workspace.
        expected = build_command(
            the_entry,
            launch,
            target_url=str(the_entry.target_url),
            tokenizer=the_entry.tokenizer,
            output_path=results / f"{launch.label}.json",
        )
        assert step.cmdline is not None and step.argv is not None
        assert step.cmdline[-len(expected.args):] == list(expected.args), "what ps shows: the same, no secret"
        for value in the_entry.secret_values:
            assert value not in "\0".join(step.cmdline)
        # What GuideLLM parses: the same, with the secrets merged into --backend as the local launcher does.
        merged = merge_backend_secrets(list(expected.args), expected.secret_env.get(BACKEND_SECRETS_ENV))
        at = merged.index("--backend") + 1
        assert step.argv[:at] + step.argv[at + 1:] == merged[:at] + merged[at + 1:]
        assert yaml.safe_load(step.argv[at]) == yaml.safe_load(merged[at]) or step.argv[at] == merged[at]


def test_stair_step_layers_become_time_shifted_copies() -> None:
    the_entry = entry(CASES[-1])
    launches = plan_launches(the_entry)
    params = [task_params(the_entry, launch, command_for(the_entry, launch)) for launch in launches]
    assert [p["start-delay"] for p in params] == ["0", "600", "1200", "1800"]
    assert [float(p["max-seconds"]) for p in params] == [3600, 3000, 2400, 1800]
    assert {p["rate"] for p in params} == {"0.5"}
    assert len({p["random-seed"] for p in params}) == 4, "each copy sends different prompts"
    assert [p["output-basename"] for p in params] == ["guidellm-1", "guidellm-2", "guidellm-3", "guidellm-4"]


@pytest.mark.parametrize(("update", "message"), [
    ({"target_url": None}, "needs targetUrl"),
    ({"tokenizer": "some/folder"}, "is a folder on this machine"),
    ({"data_file": "prompts.jsonl"}, "is a file on this machine"),
])  # fmt: skip
def test_what_cannot_run_in_the_cluster(update: dict[str, Any], message: str) -> None:
    # model_copy skips validation: the local-file checks of the options model need real files.
    the_entry = entry({"rateType": "synchronous"}).model_copy(update=update)
    with pytest.raises(ConfigurationError, match=message):
        check_entry(the_entry)
