"""Each Tekton copy of an LLM_LOAD entry gets its own Prometheus window, from its Task's start-time and
end-time results (the ranges seed 003 reads from Prometheus), queried against a real Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_kube import FakeKube
from test_tekton_executor import ENTRY, REPORT_FILE

from perf_tests.config.settings import PrometheusSettings, Settings
from perf_tests.observability.local_prometheus import LocalPrometheus
from perf_tests.session.session import PerfSession

pytestmark = pytest.mark.prometheus


def test_each_copy_is_queried_over_its_task_s_own_window(kube: FakeKube, tekton_settings: object, tmp_path: Path,
                                                         prometheus: LocalPrometheus) -> None:
    kube.behaviour.report = REPORT_FILE.read_bytes()
    entry = {**ENTRY, "prometheus": {"step": "1s", "queries": {"one": "vector(1)"}},
             "thresholds": ["last(prom:one) == 1"]}
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps([entry]), encoding="utf-8")
    settings = Settings(prometheus=PrometheusSettings(PROMETHEUS_URL=prometheus.url))
    outcome = PerfSession(scenario=scenario, settings=settings, data_dir=tmp_path / "test_data",
                          results_dir=tmp_path / "results", console_logging=False).run()
    assert outcome.passed, outcome.failure_message()
    observed = outcome.summary["scenarios"][0]["prometheus"]
    copies = [w for w in observed["windows"] if w["kind"] == "copy"]
    assert len(copies) == 1, observed
    assert copies[0]["name"] == "copy guidellm"
    # RFC 3339 in whole seconds, from the Task's results: inside the entry's window give or take a second.
    assert copies[0]["start"] == int(copies[0]["start"]) and copies[0]["end"] == int(copies[0]["end"])
    assert observed["start"] - 1 <= copies[0]["start"] <= copies[0]["end"] <= observed["end"] + 1
    assert copies[0]["queries"]["one"]["aggregate"]["last"] == 1
