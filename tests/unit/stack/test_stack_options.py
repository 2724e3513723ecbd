"""The ``stack`` block: validated with clear messages, varied by a matrix as ``stack.<field>``, in the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_tests.errors import ScenarioError
from perf_tests.models.scenario_file import build_scenario, scenario_json_schema
from perf_tests.runners.registry import options_models

DATA = Path(__file__).resolve().parents[3] / "test_data"


def _entry(**extra: object) -> dict[str, object]:
    return {"mode": "LLM_LOAD", "name": "serve", "startTime": 0, "runTime": "10s", "rate": 1, **extra}


def _error(*entries: dict[str, object]) -> str:
    with pytest.raises(ScenarioError) as error:
        build_scenario(list(entries), options_models(), DATA)
    return str(error.value)


def test_a_matrix_over_stack_fields_expands_one_entry_per_combination_one_after_the_other() -> None:
    scenario = build_scenario([_entry(
        stack={"kind": "kubernetes", "image": "vllm/vllm-openai:v0.11.0", "model": "org/m", "env": {"A": "1"}},
        matrix={"stack.replicas": [1, 2], "stack.args": [["--max-num-seqs", "8"], ["--max-num-seqs", "32"]]},
    )], options_models(), DATA)
    names = [entry.name for entry in scenario.entries]
    assert names == ["serve[stack.replicas=1,stack.args=--max-num-seqs 8]",
                     "serve[stack.replicas=1,stack.args=--max-num-seqs 32]",
                     "serve[stack.replicas=2,stack.args=--max-num-seqs 8]",
                     "serve[stack.replicas=2,stack.args=--max-num-seqs 32]"]
    stacks = [getattr(entry, "stack") for entry in scenario.entries]  # noqa: B009 - the LLM_LOAD field
    assert [(s.replicas, s.args[-1]) for s in stacks] == [(1, "8"), (1, "32"), (2, "8"), (2, "32")]
    assert all(s.env == {"A": "1"} and s.image == "vllm/vllm-openai:v0.11.0" for s in stacks)  # others kept
    afters = [getattr(entry, "stack_after") for entry in scenario.entries]  # noqa: B009
    assert afters == [None, *names[:-1]]  # each deploys after the previous one's stack is gone


@pytest.mark.parametrize(("stack", "message"), [
    ({"kind": "docker"}, "Input should be 'local-vllm' or 'kubernetes'"),
    ({"kind": "kubernetes", "model": "m"}, "kind kubernetes needs image"),
    ({"kind": "local-vllm", "image": "x", "resources": {"limits": {"cpu": "1"}}},
     "image, resources apply only to kind kubernetes"),
    ({"kind": "local-vllm", "replicas": 2}, "local-vllm runs one server (replicas 1)"),
    ({"kind": "local-vllm", "args": ["--port", "9"]}, "--port is set by the stack"),
    ({"kind": "local-vllm", "readyTimeout": 0}, "must be greater than 0"),
    ({"kind": "kubernetes", "image": "i", "model": "m", "resources": {"limits": {"cpu": "lots"}}},
     "not a Kubernetes quantity"),
    ({"kind": "kubernetes", "image": "i", "model": "m", "namespace": {"name": "Bad_Name"}}, "is not a namespace name"),
    ({"kind": "local-vllm", "replica": 1}, "field 'stack.replica' is not allowed"),
])
def test_bad_stacks_are_clear_errors(stack: dict[str, object], message: str) -> None:
    text = _error(_entry(stack=stack))
    assert "field 'stack" in text and message in text and "Traceback" not in text


def test_a_stack_sets_the_target_itself() -> None:
    text = _error(_entry(stack={"kind": "local-vllm"}, targetUrl="http://127.0.0.1:8000"))
    assert "a stack sets the target itself; remove targetUrl" in text
    text = _error(_entry(stack={"kind": "local-vllm"}, executor="tekton"))
    assert "stack kind local-vllm listens on this machine's loopback" in text


def test_the_schema_types_stack_fields_and_their_matrix_factors() -> None:
    schema = scenario_json_schema(options_models())
    llm = schema["$defs"]["LlmLoadOptions"]["properties"]
    assert "stack" in llm
    factors = llm["matrix"]["anyOf"][0]["properties"]
    assert factors["stack.replicas"]["items"]["type"] == "integer"
    assert factors["stack.args"]["items"]["type"] == "array"
    assert "$ref" not in str(factors["stack.namespace"])  # inlined, so the factor stands on its own
    stack = schema["$defs"]["StackOptions"]["properties"]
    assert {"kind", "model", "servedModelName", "image", "replicas", "args", "env", "resources", "namespace",
            "readyTimeout", "keep"} <= set(stack)


def test_secrets_of_a_stack_never_reach_a_command_line_a_deployment_or_a_record() -> None:
    key = "sk-stack-SECRET-51c2"
    message = _error(_entry(stack={"kind": "local-vllm", "args": ["--api-key", key]}))
    assert "--api-key would put a secret on the server's command line" in message and "VLLM_API_KEY" in message
    assert key not in message
    message = _error(_entry(stack={"kind": "kubernetes", "image": "vllm/vllm-openai:v0.11.0", "model": "org/m",
                                   "env": {"VLLM_API_KEY": key, "VLLM_LOGGING_LEVEL": "DEBUG"}}))
    assert "env VLLM_API_KEY: a secret in a Deployment's env" in message and key not in message
    env = {"VLLM_API_KEY": key, "OMP_NUM_THREADS": "1"}
    scenario = build_scenario([_entry(stack={"kind": "local-vllm", "env": env})], options_models(), DATA)
    stack = getattr(scenario.entries[0], "stack")  # noqa: B009 - the LLM_LOAD field
    assert stack.env["VLLM_API_KEY"] == key, "the server gets it (in its environment)"
    assert stack.shown_env == {"VLLM_API_KEY": "***", "OMP_NUM_THREADS": "1"}, "records show it masked"
    from perf_tests.logger.redaction import redact

    assert key not in redact(f"env {key}")  # and any log line echoing it is redacted
