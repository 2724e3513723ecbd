"""``summary.csv``: one row per scenario entry and operation, readable by spreadsheets."""

from __future__ import annotations

import csv
import io

from perf_tests.reports import CSV_FILE_NAME, summary_csv, write_summary_csv
from perf_tests.reports.csv_report import CSV_COLUMNS
from perf_tests.results import SummaryDocument
from perf_tests.results.read import validate_summary_document


def _document(summary):
    """A summary given as JSON, read as ``read_summary`` reads it (this one is version 1)."""
    document, problems = validate_summary_document(summary)
    assert document is not None, problems
    return document


def _summary() -> SummaryDocument:
    return _document(_summary_json())


def _summary_json():
    return {
        "schemaVersion": 1, "run_id": "r1", "start": None, "end": None,
        "scenarios": [
            {"name": "PIPELINE_RUN#0", "mode": "PIPELINE_RUN", "status": "passed", "start": "2025-01-01T00:00:00Z",
             "end": "2025-01-01T00:01:00Z", "duration_s": 60.0,
             "operations": {
                 "create_run": {"count": 10, "ok": 9, "failed": 1, "success_rate": 0.9, "throughput": 1 / 6,
                                "min_ms": 5.0, "mean_ms": 12.345678, "p50_ms": 10.0, "p90_ms": 20.0, "p95_ms": 25.0,
                                "p99_ms": 30.0, "max_ms": 31.0, "errors": {"http_503": 1, "timeout": 2}},
                 "list_runs": {"count": 100, "ok": 100, "failed": 0, "success_rate": 1.0, "throughput": None,
                               "p50_ms": 2.0, "errors": {}, "dropped": 3, "lateness": {"p99_ms": 4.5}},
             },
             "verdict": {"passed": False, "checks": []}},
            {"name": "LLM_LOAD#1", "mode": "LLM_LOAD", "status": "error", "operations": {
                "ttft": {"p50_ms": 100.0, "p99_ms": 900.0, "source": "guidellm"}}},
            {"name": "EMPTY#2", "mode": "PIPELINE_RUN", "status": "not_run", "operations": {}},
        ],
    }


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_one_row_per_scenario_and_operation_with_the_columns_in_order():
    text = summary_csv(_summary())
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = _rows(text)
    assert [(r["scenario"], r["operation"]) for r in rows] == [
        ("PIPELINE_RUN#0", "create_run"), ("PIPELINE_RUN#0", "list_runs"), ("LLM_LOAD#1", "ttft"), ("EMPTY#2", "")]


def test_values_are_plain_numbers_and_empty_when_unknown():
    create, listing, ttft, empty = _rows(summary_csv(_summary()))
    assert (create["run_id"], create["status"], create["passed"]) == ("r1", "passed", "false")
    assert create["count"] == "10" and create["mean_ms"] == "12.3457" and create["throughput"] == "0.166667"
    assert create["errors"] == "http_503=1;timeout=2"
    assert listing["throughput"] == "" and listing["dropped"] == "3" and listing["lateness_p99_ms"] == "4.5"
    assert ttft["source"] == "guidellm" and ttft["count"] == "" and ttft["p99_ms"] == "900"
    assert empty["status"] == "not_run" and empty["count"] == ""


def test_write_summary_csv_writes_next_to_the_summary(tmp_path):
    path = write_summary_csv(_summary(), tmp_path)
    assert path == tmp_path / CSV_FILE_NAME
    assert len(_rows(path.read_text(encoding="utf-8"))) == 4
    assert not list(tmp_path.glob("*.tmp"))


def test_names_with_commas_and_quotes_are_quoted():
    summary = _summary_json()
    summary["scenarios"][0]["name"] = 'RANDOM_GETS[rate=1,"x"]'
    assert _rows(summary_csv(_document(summary)))[0]["scenario"] == 'RANDOM_GETS[rate=1,"x"]'
