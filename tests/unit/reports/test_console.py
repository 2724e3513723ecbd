"""The console table: one block per entry, one aligned row per operation, then the entry's checks."""

import pytest

from perf_tests.reports.console import format_summary_table
from perf_tests.results import EntryVerdict, SummaryDocument


def document(**fields):
    """A summary document of the given keys (the run's own left empty)."""
    return SummaryDocument.model_validate({"run_id": "r", "start": None, "end": None, "scenarios": [], **fields})


def operation(**fields):
    base: dict[str, object] = {"count": 20, "failed": 2, "throughput": 2.0, "p50_ms": 12.34, "p90_ms": 150.4,
                               "p95_ms": 12_345.0, "p99_ms": 90_000.0, "max_ms": None, "errors": {}}
    return {**base, **fields}


@pytest.fixture
def summary():
    return document(targets={"kfp": {"url": "http://127.0.0.1:8888", "description": "embedded KFP simulator"},
                    "other": {"url": "http://llm:8000"}}, scenarios=[
            {
                "name": "runs", "mode": "PIPELINE_RUN", "duration_s": 30.04,
                "operations": {
                    "create_run": operation(errors={"http_500": 2}),
                    "get_run": operation(count=500, failed=0, throughput=16.666, dropped=3,
                                         lateness={"p99_ms": 4.2}),
                },
                "notes": ["cleanup failed: gone"],
            },
            {"name": "idle", "mode": "EXPERIMENT", "duration_s": None, "operations": {}, "notes": []},
        ])


def test_targets_header_rows_and_units(summary):
    lines = format_summary_table(summary).splitlines()
    assert lines[0] == "target: embedded KFP simulator"
    assert lines[1] == "target: http://llm:8000"
    assert lines[2] == "runs (PIPELINE_RUN, 30.0s)"
    assert lines[3].split() == ["operation", "count", "failed", "rate/s", "p50", "p90", "p95", "p99", "max"]
    assert lines[4].split() == ["create_run", "20", "2", "2.0", "12.3ms", "150ms", "12.3s", "1.5m", "-"]
    assert lines[5] == "    errors http_500 2"
    assert lines[6].split()[:4] == ["get_run", "500", "0", "16.7"]
    assert lines[7] == "    dropped 3; send lateness p99 4.2ms"
    assert lines[8] == "  note: cleanup failed: gone"
    assert lines[9] == "idle (EXPERIMENT)"
    assert len(lines) == 10  # no header for an entry without operations


def test_columns_line_up(summary):
    lines = format_summary_table(summary).splitlines()
    header, create, get = lines[3], lines[4], lines[6]
    assert len(header) == len(create) == len(get) == 2 + 28 + 8 * 10
    for column in ("count", "p50", "max"):
        end = header.index(column) + len(column)
        assert create[end - 1] != " "  # right-aligned under the header
        assert get[end - 1] != " "


def test_verdicts_mark_entries_and_list_checks(summary):
    verdicts = [EntryVerdict.model_validate(verdict) for verdict in [
        {"name": "runs", "passed": False, "checks": [
            {"name": "ran", "passed": True, "message": "ran to its end"},
            {"name": "failures", "passed": False,
             "message": "runs: 2 of 20 operations failed (10.0%, allowed 0.0%): create_run: 2x http_500"},
            {"name": "p95(create_run) < 2s", "passed": False, "message": "p95(create_run) < 2s: measured 12.3s"},
        ]},
        {"name": "idle", "passed": True, "checks": []},
    ]]
    lines = format_summary_table(summary, verdicts).splitlines()
    assert "runs (PIPELINE_RUN, 30.0s) FAILED" in lines
    assert "idle (EXPERIMENT) PASSED" in lines
    assert "  [PASS] ran: ran to its end" in lines
    assert "  [FAIL] failures: 2 of 20 operations failed (10.0%, allowed 0.0%): create_run: 2x http_500" in lines
    assert "  [FAIL] p95(create_run) < 2s: measured 12.3s" in lines  # the name is not printed twice


def test_an_empty_summary_is_an_empty_table():
    assert format_summary_table(document()) == ""


@pytest.mark.parametrize(
    ("ms", "shown"),
    [(0.04, "0.0ms"), (1.5, "1.5ms"), (99.94, "99.9ms"), (100.0, "100ms"), (9_999.0, "9999ms"),
     (10_000.0, "10.0s"), (59_999.0, "60.0s"), (60_000.0, "1.0m"), (3_600_000.0, "60.0m")],
)
def test_durations_pick_a_readable_unit(ms, shown):
    table = format_summary_table(document(scenarios=[{"name": "s", "mode": "M", "operations": {
        "op": {"count": 1, "p50_ms": ms}}}]))
    assert table.splitlines()[2].split()[4] == shown


def test_an_entry_with_a_load_window_shows_it_beside_its_window(summary):
    summary.scenarios[0].load_duration_s = 20.0
    lines = format_summary_table(summary).splitlines()
    assert "runs (PIPELINE_RUN, 30.0s, load 20.0s)" in lines


def test_harness_time_is_shown_beside_the_latency_when_notable():
    doc = document(scenarios=[{"name": "runs", "mode": "PIPELINE_RUN", "duration_s": 10.0, "notes": [],
                               "operations": {
                                   "create_run": operation(queue_wait={"p99_ms": 0.4},
                                                           harness_delay={"p50_ms": 0.9, "p99_ms": 7.25}),
                                   "get_run": operation(queue_wait={"p99_ms": 3.0}, harness_delay={"p99_ms": 0.2}),
                                   "list_runs": operation(queue_wait={"p99_ms": 12.0}, harness_delay={"p99_ms": 1.0}),
                               }}])
    extras = [line for line in format_summary_table(doc).splitlines() if line.startswith("    ")]
    assert extras == [
        "    harness delay p99 7.2ms (not in the latency)",
        "    queue wait p99 3.0ms (not in the latency)",
        "    queue wait p99 12.0ms (not in the latency); harness delay p99 1.0ms (not in the latency)",
    ]
