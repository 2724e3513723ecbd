"""summary.json: built from the recorder's statistics, valid against its schema, written atomically."""

import json
import platform
from datetime import UTC, datetime

import pytest

from perf_tests.recorder import (
    AggregateRecord,
    MetricsRecord,
    OperationEvent,
    Recorder,
    ScenarioMark,
    new_histogram,
)
from perf_tests.reports.schema import validate_summary
from perf_tests.reports.summary import (
    SCHEMA_VERSION,
    SUMMARY_FILE_NAME,
    build_summary,
    scenario_summary,
    write_summary,
)
from perf_tests.reports.summary_model import read_summary

T0 = 1_700_000_000.0


def iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def recorder():
    """One entry that ran for 10 s: 20 create_run calls (2 failed), one upload, GuideLLM-style metrics."""
    recorder = Recorder()
    recorder(ScenarioMark("runs", "PIPELINE_RUN", "started", T0))
    recorder(OperationEvent("runs", "PIPELINE_RUN", "upload_pipeline", T0 + 0.1, 0.3, True))
    for i in range(20):
        ok = i not in (3, 7)
        recorder(OperationEvent("runs", "PIPELINE_RUN", "create_run", T0 + i * 0.5, 0.1 + i * 0.01, ok,
                                None if ok else "http_500", None if ok else "server error"))
    recorder(MetricsRecord("runs", "PIPELINE_RUN", "ttft", T0 + 5, {"count": 100, "failed": 9, "p95_ms": 42.0},
                           source="guidellm"))
    recorder(ScenarioMark("runs", "PIPELINE_RUN", "note", T0 + 9, message="slow cluster"))
    recorder(ScenarioMark("runs", "PIPELINE_RUN", "finished", T0 + 10, status="passed",
                          attrs={"pipeline_id": "p-1"}))
    return recorder


def test_scenario_summary(recorder):
    summary = scenario_summary(recorder.scenarios["runs"], {"mode": "PIPELINE_RUN", "startTime": "0s"})
    assert summary["name"] == "runs"
    assert summary["mode"] == "PIPELINE_RUN"
    assert summary["status"] == "passed"
    assert summary["message"] is None
    assert (summary["start"], summary["end"]) == (iso(T0), iso(T0 + 10))
    assert summary["start"].endswith("Z")
    assert summary["duration_s"] == pytest.approx(10.0)
    assert summary["notes"] == ["slow cluster"]
    assert summary["attrs"] == {"pipeline_id": "p-1"}
    assert summary["planned"] == {"mode": "PIPELINE_RUN", "startTime": "0s"}
    create = summary["operations"]["create_run"]
    assert (create["count"], create["ok"], create["failed"]) == (20, 18, 2)
    assert create["errors"] == {"http_500": 2}
    assert create["throughput"] == pytest.approx(20 / 10.0)  # per second of the entry's window
    assert create["p50_ms"] == pytest.approx(200.0, rel=0.001)


def test_set_up_calls_have_no_rate(recorder):
    upload = scenario_summary(recorder.scenarios["runs"])["operations"]["upload_pipeline"]
    assert upload["count"] == 1
    assert upload["throughput"] is None


def test_external_statistics_are_reported_but_not_counted_in_totals(recorder):
    summary = scenario_summary(recorder.scenarios["runs"])
    assert summary["operations"]["ttft"] == {"count": 100, "failed": 9, "p95_ms": 42.0, "source": "guidellm"}
    assert summary["totals"] == {"count": 21, "failed": 2, "dropped": 0}
    assert "planned" not in summary


def test_dropped_arrivals_are_totalled():
    recorder = Recorder()
    for second, dropped in ((1, 2), (2, 5)):
        recorder(AggregateRecord("gets", "RANDOM_GETS", "get_run", second, 0, new_histogram(),
                                 counters={"dropped": dropped}))
    assert scenario_summary(recorder.scenarios["gets"])["totals"]["dropped"] == 7


def test_an_entry_that_never_started():
    recorder = Recorder()
    recorder(ScenarioMark("late", "EXPERIMENT", "note", T0, message="stopped before its start time"))
    summary = scenario_summary(recorder.scenarios["late"])
    assert summary["status"] == "not_run"
    assert summary["start"] is None
    assert summary["duration_s"] is None
    assert summary["operations"] == {}
    assert summary["totals"] == {"count": 0, "failed": 0, "dropped": 0}


def test_build_summary(recorder, tmp_path):
    planned = {
        "runs": {"mode": "PIPELINE_RUN", "start_s": 0.0, "end_s": 10.0},
        "never": {"mode": "EXPERIMENT", "start_s": 5.0, "end_s": 10.0},
    }
    raw = [{"mode": "PIPELINE_RUN", "name": "runs"}, {"mode": "EXPERIMENT", "name": "never"}]
    summary = build_summary("run-1", recorder, raw, tmp_path / "s.json", planned,
                            {"kfp": {"url": "http://127.0.0.1:1", "description": "embedded"}}, T0 - 1, T0 + 11)
    assert summary["schemaVersion"] == SCHEMA_VERSION
    assert summary["run_id"] == "run-1"
    assert (summary["start"], summary["end"], summary["duration_s"]) == (iso(T0 - 1), iso(T0 + 11), 12.0)
    assert summary["interrupted"] is False
    assert summary["scenario_file"] == str(tmp_path / "s.json")
    assert summary["scenario"] == raw
    assert summary["targets"]["kfp"]["description"] == "embedded"
    assert summary["environment"]["python"] == platform.python_version()
    assert summary["environment"]["perf_tests"]
    assert [s["name"] for s in summary["scenarios"]] == ["runs", "never"]
    never = summary["scenarios"][1]
    assert (never["mode"], never["status"], never["planned"]["start_s"]) == ("EXPERIMENT", "not_run", 5.0)
    assert validate_summary(json.loads(json.dumps(summary, default=str))) == []


def test_write_summary_is_atomic_and_valid_json(recorder, tmp_path):
    summary = build_summary("run-2", recorder, [], None, {"runs": {"mode": "PIPELINE_RUN"}}, {}, T0, T0 + 10,
                            interrupted=True)
    (tmp_path / SUMMARY_FILE_NAME).write_text("stale", encoding="utf-8")
    path = write_summary(summary, tmp_path)
    assert path == tmp_path / SUMMARY_FILE_NAME
    assert sorted(p.name for p in tmp_path.iterdir()) == [SUMMARY_FILE_NAME]  # no temporary file left
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["interrupted"] is True
    assert written["scenario_file"] is None
    assert written["scenarios"][0]["operations"]["create_run"]["count"] == 20


def test_what_write_summary_writes_reads_back_as_strict_json(recorder, tmp_path):
    """A statistic that is NaN (GuideLLM reports some) is written as null, so the reader, which refuses
    NaN, reads every summary the writer writes."""
    recorder(MetricsRecord("runs", "PIPELINE_RUN", "itl", T0 + 6, {"count": 3, "max_ms": float("nan"),
                                                                    "p99_ms": float("inf")}, source="guidellm"))
    summary = build_summary("run-3", recorder, [{"mode": "PIPELINE_RUN", "x": float("nan")}], None,
                            {"runs": {"mode": "PIPELINE_RUN"}}, {}, T0, T0 + 10)
    path = write_summary(summary, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    read = read_summary(path, "summary")
    assert read["scenarios"][0]["operations"]["itl"]["max_ms"] is None
    assert read["scenario"] == [{"mode": "PIPELINE_RUN", "x": None}]
