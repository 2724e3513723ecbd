"""The LLM_LOAD Tekton executor against the fake cluster, with a real GuideLLM 0.8 report.

``data/guidellm_report.json`` was written by a real ``guidellm run`` (GuideLLM 0.8.1, constant 4 req/s for
4 s against ``guidellm mock-server``, the command ``perf_tests.llm.command`` builds). The fake cluster
prints it in the Task's report step; the executor must get it back byte for byte and the local
executor's parser and universal report must read it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import FAKE_TOKEN
from fake_kube import FakeKube

from perf_tests.errors import RunnerError, TargetError
from perf_tests.llm.executors.tekton import TektonExecutor
from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.report import load_report, summarize
from perf_tests.llm.universal_report import build_universal_report, validate_universal_report
from perf_tests.tekton.settings import TektonSettings

REPORT_FILE = Path(__file__).parent / "data" / "guidellm_report.json"
ENTRY = {"mode": "LLM_LOAD", "name": "in-cluster", "startTime": 0, "runTime": "4s",
         "targetUrl": "http://mock-llm.llm.svc:8000", "model": "mock-llm", "rateType": "constant", "rate": 4,
         "promptTokens": 32, "outputTokens": 16}  # fmt: skip


def executor(settings: TektonSettings, tmp_path: Path, **fields: Any) -> TektonExecutor:
    entry = LlmLoadFields.model_validate({**ENTRY, **fields})
    return TektonExecutor(entry, run_id="20260101-000000-000", output_dir=tmp_path / "out", settings=settings)


def test_report_comes_back_and_parses(kube: FakeKube, tekton_settings: TektonSettings, tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    kube.behaviour.report = REPORT_FILE.read_bytes()
    the_executor = executor(tekton_settings, tmp_path)
    the_executor.prepare()
    try:
        [path] = the_executor.run()
    finally:
        the_executor.cleanup()
    assert path.read_bytes() == REPORT_FILE.read_bytes()
    [created] = kube.created
    params = {p["name"]: p["value"] for p in created["spec"]["params"]}
    assert params["target-url"] == "http://mock-llm.llm.svc:8000"
    assert params["rate-type"] == "constant"
    assert params["rate"] == "4.0"
    assert params["max-seconds"] == "4.0"
    results = summarize([load_report(path)])
    metrics = results.metrics()
    assert metrics["ttft"]["count"] > 0
    universal = build_universal_report(the_executor.entry, results, run_id="r", tool_version="0.8.1",
                                       commands=the_executor.commands, target=params["target-url"])  # fmt: skip
    assert validate_universal_report(universal) in (None, [])
    assert FAKE_TOKEN not in caplog.text
    assert FAKE_TOKEN not in json.dumps(universal)
    for written in (tmp_path / "out").iterdir():
        assert FAKE_TOKEN not in written.read_text()


def test_stair_step_runs_one_pipelinerun_per_layer(kube: FakeKube, tekton_settings: TektonSettings,
                                                   tmp_path: Path) -> None:  # fmt: skip
    kube.behaviour.report = REPORT_FILE.read_bytes()
    the_executor = executor(tekton_settings, tmp_path, rate=None, runTime="4s",
                            stages=[{"rate": 1, "duration": "1s"}, {"rate": 2, "duration": "3s"}])  # fmt: skip
    the_executor.prepare()
    try:
        paths = the_executor.run()
    finally:
        the_executor.cleanup()
    assert [p.name for p in paths] == ["guidellm-1.json", "guidellm-2.json"]
    delays = [{p["name"]: p["value"] for p in run["spec"]["params"]}["start-delay"] for run in kube.created]
    assert delays == ["0", "1"]
    assert len(kube.deleted) == 2


def test_failed_run_raises_with_the_step_log(kube: FakeKube, tekton_settings: TektonSettings,
                                             tmp_path: Path) -> None:  # fmt: skip
    kube.behaviour.outcome = "fail"
    the_executor = executor(tekton_settings, tmp_path)
    the_executor.prepare()
    try:
        with pytest.raises(RunnerError, match=r"(?s)step .load.: Error, exit code 1; last log lines:.*ConnectionError"):
            the_executor.run()
    finally:
        the_executor.cleanup()


def test_forbidden_is_a_target_error(kube: FakeKube, tekton_settings: TektonSettings, tmp_path: Path) -> None:
    kube.behaviour.forbidden = {("get", "tasks")}
    the_executor = executor(tekton_settings, tmp_path)
    try:
        with pytest.raises(TargetError, match=r"may not get tekton\.dev tasks in namespace 'pipelines'") as caught:
            the_executor.prepare()
    finally:
        the_executor.cleanup()
    assert FAKE_TOKEN not in str(caught.value)
