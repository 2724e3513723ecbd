"""summary.json: built from the recorder's statistics in one pass, valid against its schema (generated
from the models, published equal), written atomically, read back in this and the previous version."""

import json
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from perf_tests.recorder import (
    AggregateRecord,
    MetricsRecord,
    OperationEvent,
    Recorder,
    ScenarioMark,
    new_histogram,
)
from perf_tests.reports.schema import SUMMARY_SCHEMA_FILE, summary_json_schema, validate_summary
from perf_tests.reports.summary import (
    SUMMARY_FILE_NAME,
    EntryInput,
    RunInput,
    build_summary,
    scenario_summary,
    write_summary,
)
from perf_tests.results import SCHEMA_VERSION, Check, EntryStatus, Planned, read_summary
from perf_tests.runners.pipeline_run import PipelineRunOptions
from perf_tests.runners.random_gets import RandomGetsOptions
from perf_tests.runners.registry import setup_operations

T0 = 1_700_000_000.0
REPO = Path(__file__).resolve().parents[3]
V1_SUMMARY = REPO / "tests" / "data" / "bad_reports" / "valid_summary.json"
REGENERATE = "python -m perf_tests summary-schema -o perf_tests/reports/schemas/summary.schema.json"


def run_input(run_id="run-1", raw=(), path=None, targets=None, started=T0, finished=T0 + 10, interrupted=False):
    return RunInput(run_id, list(raw), path, targets or {}, started, finished, interrupted)


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
    planned = Planned.model_validate({"mode": "PIPELINE_RUN", "startTime": "0s"})
    summary = scenario_summary(recorder.scenarios["runs"], planned).as_json()
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


def test_rates_are_per_second_of_the_load_window_when_the_entry_marks_one(recorder):
    """An LLM_LOAD entry with a stack deploys for most of its window; its rates are over its load alone."""
    recorder(ScenarioMark("runs", "PIPELINE_RUN", "load_started", T0 + 6))
    recorder(ScenarioMark("runs", "PIPELINE_RUN", "load_finished", T0 + 8))
    summary = scenario_summary(recorder.scenarios["runs"]).as_json()
    assert summary["duration_s"] == pytest.approx(10.0)  # the entry's window is still the whole entry
    assert summary["load_duration_s"] == pytest.approx(2.0)
    assert (summary["load_start"], summary["load_end"]) == (iso(T0 + 6), iso(T0 + 8))
    assert summary["operations"]["create_run"]["throughput"] == pytest.approx(20 / 2.0)
    assert summary["operations"]["ttft"]["p95_ms"] == 42.0  # statistics from elsewhere are as given


def test_an_entry_without_a_load_window_has_none_in_its_summary(recorder):
    summary = scenario_summary(recorder.scenarios["runs"]).as_json()
    assert not {"load_start", "load_end", "load_duration_s"} & set(summary)


def test_set_up_calls_have_no_rate(recorder):
    record = recorder.scenarios["runs"]
    upload = scenario_summary(record, setup_operations=setup_operations("PIPELINE_RUN")).as_json()
    assert upload["operations"]["upload_pipeline"]["count"] == 1
    assert upload["operations"]["upload_pipeline"]["throughput"] is None
    assert upload["operations"]["create_run"]["throughput"] == pytest.approx(2.0)
    # The mode knows its set-up calls (its options model), not the report.
    assert "upload_pipeline" in PipelineRunOptions.setup_operations
    assert RandomGetsOptions.setup_operations == frozenset() == setup_operations("NO_SUCH_MODE")
    as_rate = scenario_summary(record).as_json()["operations"]["upload_pipeline"]
    assert as_rate["throughput"] == pytest.approx(0.1)


def test_external_statistics_are_reported_but_not_counted_in_totals(recorder):
    summary = scenario_summary(recorder.scenarios["runs"]).as_json()
    assert summary["operations"]["ttft"] == {"count": 100, "failed": 9, "p95_ms": 42.0, "source": "guidellm"}
    assert summary["totals"] == {"count": 21, "failed": 2, "dropped": 0}
    assert "planned" not in summary


def test_dropped_arrivals_are_totalled():
    recorder = Recorder()
    for second, dropped in ((1, 2), (2, 5)):
        recorder(AggregateRecord("gets", "RANDOM_GETS", "get_run", second, 0, new_histogram(),
                                 counters={"dropped": dropped}))
    assert scenario_summary(recorder.scenarios["gets"]).as_json()["totals"]["dropped"] == 7


def test_an_entry_that_never_started():
    recorder = Recorder()
    recorder(ScenarioMark("late", "EXPERIMENT", "note", T0, message="stopped before its start time"))
    summary = scenario_summary(recorder.scenarios["late"]).as_json()
    assert summary["status"] == "not_run"
    assert summary["start"] is None
    assert summary["duration_s"] is None
    assert summary["operations"] == {}
    assert summary["totals"] == {"count": 0, "failed": 0, "dropped": 0}


def test_build_summary(recorder, tmp_path):
    entries = [
        EntryInput("runs", "PIPELINE_RUN", Planned(mode="PIPELINE_RUN", start_offset_s=0.0, run_time_s=10.0),
                   allowed_failure_rate=0.2),
        EntryInput("never", "EXPERIMENT", Planned(mode="EXPERIMENT", start_offset_s=5.0, run_time_s=5.0)),
    ]
    raw = [{"mode": "PIPELINE_RUN", "name": "runs"}, {"mode": "EXPERIMENT", "name": "never"}]
    run = run_input("run-1", raw, tmp_path / "s.json",
                    {"kfp": {"url": "http://127.0.0.1:1", "description": "embedded"}}, T0 - 1, T0 + 11)
    summary = build_summary(run, recorder, entries).as_json()
    assert summary["schema_version"] == SCHEMA_VERSION == 2
    assert summary["run_id"] == "run-1"
    assert (summary["start"], summary["end"], summary["duration_s"]) == (iso(T0 - 1), iso(T0 + 11), 12.0)
    assert summary["interrupted"] is False
    assert summary["scenario_file"] == str(tmp_path / "s.json")
    assert summary["scenario"] == raw
    assert summary["targets"]["kfp"]["description"] == "embedded"
    assert summary["environment"]["python"] == platform.python_version()
    assert summary["environment"]["perf_tests"]
    assert [s["name"] for s in summary["scenarios"]] == ["runs", "never"]
    runs, never = summary["scenarios"]
    assert (never["mode"], never["status"], never["planned"]["start_offset_s"]) == ("EXPERIMENT", "not_run", 5.0)
    # Judged in the same pass: each entry's verdict, and the run's.
    assert runs["verdict"]["passed"] is True and never["verdict"]["passed"] is False
    assert [c["name"] for c in never["verdict"]["checks"]] == ["ran", "failures"]
    assert summary["passed"] is False
    assert "thresholds" not in runs and "baseline" not in runs and "harness" not in summary
    assert validate_summary(json.loads(json.dumps(summary, default=str))) == []


def test_one_pass_takes_thresholds_exit_status_notes_and_further_checks(recorder):
    entry = EntryInput(
        "runs", "PIPELINE_RUN", thresholds=["p99.9(create_run) < 1s", "success_rate >= 0.8"],
        exit_status=EntryStatus.HUNG, exit_message="did not stop in time", notes_before=["first"], notes_after=["last"],
        checks=[Check("harness", False, "runs: saturated")],
    )
    part = build_summary(run_input(), recorder, [entry]).as_json()["scenarios"][0]
    assert (part["status"], part["message"]) == ("hung", "did not stop in time")
    assert part["notes"] == ["first", "slow cluster", "last"]
    assert part["operations"]["create_run"]["p99.9_ms"] == pytest.approx(290.0, rel=0.01)  # for the threshold
    assert [t["threshold"] for t in part["thresholds"]] == ["p99.9(create_run) < 1s", "success_rate >= 0.8"]
    assert [(c["name"], c["passed"]) for c in part["verdict"]["checks"]] == [
        ("ran", False), ("p99.9(create_run) < 1s", True), ("success_rate >= 0.8", True), ("harness", False)]


def _keys(value):
    """Every key of a JSON document, leaving out the scenario file's own (camelCase) entries."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            if key != "scenario":
                yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_summary_keys_are_snake_case(recorder):
    raw = [{"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1}]
    summary = build_summary(run_input(raw=raw), recorder, [EntryInput("runs", "PIPELINE_RUN")]).as_json()
    operation_names = set(summary["scenarios"][0]["operations"])
    camel = {key for key in _keys(summary) if re.search(r"[A-Z]", key)} - operation_names
    assert camel == set()
    assert summary["scenario"] == raw  # the scenario as written keeps its keys


def test_a_version_1_summary_reads_as_version_2():
    written = json.loads(V1_SUMMARY.read_text(encoding="utf-8"))
    assert written["schemaVersion"] == 1
    read = read_summary(V1_SUMMARY).as_json()
    assert read["schema_version"] == 2 and "schemaVersion" not in read
    del written["schemaVersion"]
    for key, value in written.items():  # every other key as it was
        assert read[key] == value, key


def test_the_published_schema_is_the_generated_one():
    published = json.loads(SUMMARY_SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == summary_json_schema(), f"the published summary schema is stale; run {REGENERATE}"


def test_write_summary_is_atomic_and_valid_json(recorder, tmp_path):
    summary = build_summary(run_input("run-2", interrupted=True), recorder, [EntryInput("runs", "PIPELINE_RUN")])
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
    summary = build_summary(run_input("run-3", [{"mode": "PIPELINE_RUN", "x": float("nan")}]), recorder,
                            [EntryInput("runs", "PIPELINE_RUN")])
    path = write_summary(summary, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    read = read_summary(path, "summary").as_json()
    assert read["scenarios"][0]["operations"]["itl"]["max_ms"] is None
    assert read["scenario"] == [{"mode": "PIPELINE_RUN", "x": None}]
    assert read == json.loads(text)  # read and written again, it is the document that was written
