"""The launcher's merge of the entry's secret ``--backend`` keys from its environment into GuideLLM's arguments."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from perf_tests.llm.process.backend_secrets import merge_backend_secrets, merged

pytest.importorskip("guidellm.utils.cli", reason="GuideLLM is not installed (the llm extra)")

ENV = "PERF_TESTS_BACKEND_SECRETS"
SECRET: dict[str, Any] = {"api_key": "sk-merge-SECRET-1", "extras": {"headers": {"X-Key": "hdr-merge-SECRET-2"}}}


def test_secrets_are_merged_into_the_backend_and_leave_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, json.dumps(SECRET))
    args = ["run", "--backend", "kind=openai_http,target=http://127.0.0.1:1,timeout=5", "--profile", "kind=synchronous"]
    result = merge_backend_secrets(args)
    assert result[:2] == ["run", "--backend"] and result[3:] == ["--profile", "kind=synchronous"]
    assert json.loads(result[2]) == {"kind": "openai_http", "target": "http://127.0.0.1:1", "timeout": 5, **SECRET}
    assert args[2] == "kind=openai_http,target=http://127.0.0.1:1,timeout=5", "the caller's list is unchanged"
    assert ENV not in os.environ, "GuideLLM's workers inherit no copy"


def test_the_equals_spelling_and_json_values_are_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, json.dumps(SECRET))
    public = {"kind": "openai_http", "target": "http://h", "extras": {"body": {"top_p": 0.5}}}
    [arg] = merge_backend_secrets([f"--backend={json.dumps(public)}"])
    assert json.loads(arg.removeprefix("--backend=")) == {
        **public, "api_key": SECRET["api_key"], "extras": {"body": {"top_p": 0.5}, **SECRET["extras"]}}


def test_nothing_changes_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    args = ["run", "--backend", "kind=openai_http,target=http://h"]
    assert merge_backend_secrets(args) == args


@pytest.mark.parametrize(("raw", "args", "message"), [
    ("not json sk-merge-SECRET-1", ["run", "--backend", "kind=openai_http,target=http://h"], "is not a JSON object"),
    (json.dumps(SECRET), ["run", "--profile", "kind=synchronous"], "there is no --backend argument"),
])
def test_unusable_secrets_stop_the_run_without_showing_them(raw: str, args: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message) as info:
        merge_backend_secrets(args, raw)
    assert "sk-merge-SECRET-1" not in str(info.value) and "hdr-merge-SECRET-2" not in str(info.value)


def test_merge_is_deep_and_the_secret_wins() -> None:
    public = {"a": 1, "extras": {"headers": {"X": "public"}, "body": {}}}
    assert merged(public, {"extras": {"headers": {"X": "s"}}}) == {
        "a": 1, "extras": {"headers": {"X": "s"}, "body": {}}}
