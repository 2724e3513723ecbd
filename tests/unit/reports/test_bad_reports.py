"""The bad-results corpus: ``report`` and ``compare`` on malformed summary.json, events.jsonl and run.json
files give one clear error naming the file and what is wrong (exit 2), never a traceback.

``tests/data/bad_reports/`` holds the files (listed in its README): ``summary/`` is read as the baseline
and as the run of ``compare`` and as the summary of ``report``; ``events/`` is the events.jsonl of a
results directory without a summary; ``run/`` is the run.json beside a valid events.jsonl.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perf_tests.cli import main

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / "tests" / "data" / "bad_reports"
VALID_SUMMARY = CORPUS / "valid_summary.json"
OP = "scenarios[0] (runs).operations.create_run"

SUMMARIES: dict[str, str] = {
    "not_json.json": "is not JSON (line 2, column 1: Expecting value)",
    "empty.json": "is not JSON (line 1, column 1: Expecting value)",
    "latin1.json": "is not UTF-8 text (byte 33)",
    "top_list.json": "expected a JSON object with schema_version and scenarios, got []",
    "no_schema_version.json": "it has no schema_version",
    "schema_version_99.json": "schema_version 99 is newer than this perf-tests reads (2)",
    "schema_version_string.json": 'schema_version must be 1 or 2 (got "1")',
    "scenarios_number.json": "scenarios: Input should be a list (got 5)",
    "scenario_not_object.json": "scenarios[0]: Input should be an object (got 5)",
    "scenario_without_name.json": "scenarios[0].name: Field required",
    "operations_list.json": "scenarios[0] (runs).operations: Input should be an object",
    "operation_not_object.json": f"{OP}: Input should be an object (got 5)",
    "success_rate_2.json": f"{OP}.success_rate: Input should be less than or equal to 1 (got 2)",
    "count_negative.json": f"{OP}.count: Input should be greater than or equal to 0 (got -3)",
    "count_string.json": f'{OP}.count: Input should be a valid number (got "20")',
    "errors_list.json": f"{OP}.errors: Input should be an object",
    "p95_nan.json": f"{OP}.p95_ms: Input should be a finite number (got NaN)",
    "throughput_infinity.json": f"{OP}.throughput: Input should be a finite number (got Infinity)",
    "notes_string.json": 'scenarios[0] (runs).notes: Input should be a list (got "slow")',
    "totals_number.json": "scenarios[0] (runs).totals: Input should be an object (got 3)",
    "verdict_checks_object.json": "scenarios[0] (runs).verdict.checks: Input should be a list",
    "comparison_status_unknown.json": "scenarios[0] (runs).baseline.comparisons[0].status: Input should be "
                                      "'regression', 'improvement', 'unchanged' or 'skipped' (got \"worse\")",
    "targets_list.json": "targets: Input should be an object",
    "many_problems.json": "and 7 more problems",
}

EVENTS: dict[str, str] = {
    "op_time_nan.jsonl": "line 2: NaN is not a JSON number",
    "op_ms_infinity.jsonl": "line 2: Infinity is not a JSON number",
    "op_time_1e400.jsonl": "line 2: an event of type 'op': field 't': Input should be a finite number (got Infinity)",
    "op_time_5000_digits.jsonl": "line 2: Exceeds the limit (4300 digits) for integer string conversion",
    "op_without_time.jsonl": "line 2: an event of type 'op': field 't': Field required",
    "op_ms_negative.jsonl": "field 'ms': Input should be greater than or equal to 0 (got -5)",
    "op_ok_string.jsonl": "field 'ok': Input should be a valid boolean (got \"yes\")",
    "op_attrs_list.jsonl": "field 'attrs': Input should be an object",
    "scenario_name_list.jsonl": "field 'scenario': Input should be a valid string",
    "scenario_phase_number.jsonl": "an event of type 'scenario': field 'phase': Input should be a valid string (got 3)",
    "agg_errors_list.jsonl": "an event of type 'agg': field 'errors': Input should be an object",
    "agg_ok_string.jsonl": "field 'ok': Input should be a valid number (got \"3\")",
    "agg_values_list.jsonl": "field 'values': Input should be an object",
    "agg_counters_string.jsonl": "field 'counters.dropped': Input should be a valid number (got \"many\")",
    "metrics_stats_list.jsonl": "an event of type 'metrics': field 'stats': Input should be an object",
    "metrics_success_rate_2.jsonl": "field 'stats': success_rate: Input should be less than or equal to 1",
}

RUNS: dict[str, str] = {
    "not_json.json": "run.json cannot be read as JSON (Expecting value: line 1 column 12",
    "top_list.json": "run.json is not a valid perf-tests run.json: (document): Input should be an object",
    "entries_object.json": "entries: Input should be a list",
    "entry_thresholds_string.json": 'entries[0] (runs).thresholds: Input should be a list (got "p95(create_run) < 1s")',
    "entry_threshold_garbage.json": "run.json: entries[0] (runs).thresholds: threshold 'fast please' is not of the "
                                    "form",
    "entry_allowed_failure_rate_2.json": "entries[0] (runs).allowed_failure_rate: Input should be less than or "
                                         "equal to 1 (got 2)",
    "started_string.json": 'started: Input should be a valid number (got "yesterday")',
    "scenario_object.json": "scenario: Input should be a list",
}

VALID_EVENTS = [
    {"type": "scenario", "t": 1_700_000_000.0, "scenario": "runs", "mode": "PIPELINE_RUN", "phase": "started"},
    {"type": "op", "t": 1_700_000_000.5, "scenario": "runs", "mode": "PIPELINE_RUN", "op": "create_run", "ms": 12.5,
     "ok": True},
    {"type": "scenario", "t": 1_700_000_010.0, "scenario": "runs", "mode": "PIPELINE_RUN", "phase": "finished",
     "status": "passed"},
]


def _files(folder: str) -> list[str]:
    return sorted(path.name for path in (CORPUS / folder).iterdir())


def test_the_corpus_is_complete_and_documented():
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for folder, expected in (("summary", SUMMARIES), ("events", EVENTS), ("run", RUNS)):
        assert _files(folder) == sorted(expected), f"every {folder}/ file needs an expected message, and back"
        for name in expected:
            assert f"| `{folder}/{name}` | " in readme, f"{folder}/{name} is not listed in README.md"


def _one_clear_error(capsys, code: int, path: Path, fragment: str, role: str = "") -> None:
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith(f"error: {role}{path}"), err
    assert fragment in err, err
    assert len(err) < 2000, "an error a person reads, not a dump"
    del out


def test_the_valid_summary_compares_and_reports(capsys, tmp_path):
    assert main(["compare", str(VALID_SUMMARY), str(VALID_SUMMARY)]) == 0
    shutil.copy(VALID_SUMMARY, tmp_path / "summary.json")
    assert main(["report", str(tmp_path)]) == 0
    assert "error" not in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(SUMMARIES))
def test_a_bad_baseline_names_the_baseline(name, capsys):
    path = CORPUS / "summary" / name
    _one_clear_error(capsys, main(["compare", str(path), str(VALID_SUMMARY)]), path, SUMMARIES[name], "baseline ")


@pytest.mark.parametrize("name", sorted(SUMMARIES))
def test_a_bad_new_summary_is_called_the_run_not_the_baseline(name, capsys):
    path = CORPUS / "summary" / name
    _one_clear_error(capsys, main(["compare", str(VALID_SUMMARY), str(path)]), path, SUMMARIES[name], "run ")


@pytest.mark.parametrize("name", sorted(SUMMARIES))
def test_report_on_a_bad_summary(name, capsys, tmp_path):
    shutil.copy(CORPUS / "summary" / name, tmp_path / "summary.json")
    code = main(["report", str(tmp_path)])
    _one_clear_error(capsys, code, tmp_path / "summary.json", SUMMARIES[name], "summary ")
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_report_on_bad_events(name, capsys, tmp_path):
    shutil.copy(CORPUS / "events" / name, tmp_path / "events.jsonl")
    _one_clear_error(capsys, main(["report", str(tmp_path)]), tmp_path / "events.jsonl", EVENTS[name])
    assert not (tmp_path / "summary.json").exists()


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_report_with_a_summary_still_checks_the_events_it_plots(name, capsys, tmp_path):
    shutil.copy(VALID_SUMMARY, tmp_path / "summary.json")
    shutil.copy(CORPUS / "events" / name, tmp_path / "events.jsonl")
    _one_clear_error(capsys, main(["report", str(tmp_path)]), tmp_path / "events.jsonl", EVENTS[name])


@pytest.mark.parametrize("name", sorted(RUNS))
def test_report_on_a_bad_run_file(name, capsys, tmp_path):
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in VALID_EVENTS))
    shutil.copy(CORPUS / "run" / name, tmp_path / "run.json")
    _one_clear_error(capsys, main(["report", str(tmp_path)]), tmp_path / "run.json", RUNS[name])


def test_the_valid_events_rebuild_a_summary(capsys, tmp_path):
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in VALID_EVENTS)
                                           + '{"type": "op", "t": 17')  # a torn last line is not an error
    assert main(["report", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["scenarios"][0]["operations"]["create_run"]["count"] == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_compare_refuses_a_floor_that_is_not_a_finite_number(value, capsys):
    assert main(["compare", str(VALID_SUMMARY), str(VALID_SUMMARY), f"--floor-ms={value}"]) == 2
    assert "--floor-ms must be a finite number of milliseconds >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_the_floor_setting_must_be_finite(value, capsys, monkeypatch):
    monkeypatch.setenv("PERF_BASELINE_FLOOR_MS", value)
    assert main(["compare", str(VALID_SUMMARY), str(VALID_SUMMARY)]) == 2
    assert "PERF_BASELINE_FLOOR_MS=" in capsys.readouterr().err


def test_a_bad_summary_in_a_process_of_its_own_is_no_traceback(tmp_path):
    """The same through ``python -m perf_tests``: exit code 2 and one line on stderr."""
    path = CORPUS / "summary" / "scenarios_number.json"
    result = subprocess.run([sys.executable, "-m", "perf_tests", "compare", str(VALID_SUMMARY), str(path)],
                            cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"error: run {path} is not a valid perf-tests summary: scenarios: Input should be a " \
                            "list (got 5)\n"


@pytest.mark.parametrize("option", ["--max-regression", "--floor-ms"])
def test_a_long_option_value_is_not_echoed_whole(option, capsys):
    value = "9" * 100_000 + ("%" if option == "--max-regression" else "")
    assert main(["compare", str(VALID_SUMMARY), str(VALID_SUMMARY), option, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {option}")
    assert len(err) < 300


def _rich_summary() -> dict:
    """The valid summary with every part a reader touches: thresholds, a baseline, lateness, GuideLLM stats."""
    summary = json.loads(VALID_SUMMARY.read_text(encoding="utf-8"))
    part = summary["scenarios"][0]
    part["operations"]["create_run"]["lateness"] = {"mean_ms": 1.0, "p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 3.0}
    part["operations"]["ttft"] = {"count": 10, "p50_ms": 5.0, "p99_ms": 9.0, "unit": "ms", "source": "guidellm"}
    part["thresholds"] = [{"threshold": "p95(create_run) < 2s", "metric": "p95", "operation": "create_run",
                           "comparator": "<", "kind": "latency", "measured": 20.0, "limit": 2000.0,
                           "measured_text": "20ms", "limit_text": "2s", "passed": True, "message": "ok"}]
    part["baseline"] = {"path": "old.json", "run_id": "old", "tolerance": 0.1, "regressions": 0, "improvements": 0,
                        "comparisons": [{"operation": "create_run", "metric": "p95", "kind": "latency",
                                         "baseline": 19.0, "value": 20.0, "change": 0.05, "status": "unchanged",
                                         "limit": 21.0, "reason": ""}]}
    summary["targets"] = {"kfp": {"kind": "embedded-kfp-simulator", "url": "http://127.0.0.1:1", "version": "2",
                                  "description": "the embedded simulator"}}
    return summary


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """Every key and index path in a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


REPLACEMENTS: list[object] = [None, -1, "x", [], {}, True, float("nan"), 1e400, [{}]]
REPORT_REPLACEMENTS: tuple[object, ...] = ("x", [{}])


@pytest.mark.slow
def test_no_replacement_of_any_value_breaks_compare_or_report(tmp_path, capsys):
    """Every value of a rich summary replaced by each of a few wrong kinds: compare (both ways) and report
    finish with 0, 1 or 2, never with an exception (a new reader of a new field cannot slip through)."""
    rich = _rich_summary()
    good = tmp_path / "good.json"
    good.write_text(json.dumps(rich), encoding="utf-8")
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = bad_dir / "summary.json"
    paths = _paths(rich)
    assert len(paths) > 60
    for path in paths:
        for replacement in REPLACEMENTS:
            document = json.loads(json.dumps(rich))
            node = document
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = replacement
            bad.write_text(json.dumps(document), encoding="utf-8")
            commands = [["compare", str(good), str(bad)], ["compare", str(bad), str(good)]]
            if replacement in REPORT_REPLACEMENTS:  # report writes HTML: a few kinds are enough to be quick
                commands.append(["report", str(bad_dir)])
            for argv in commands:
                code = main(argv)
                assert code in (0, 1, 2), (path, replacement, argv)
            capsys.readouterr()


@pytest.mark.parametrize(("where", "role"), [(0, "baseline"), (1, "run")])
def test_a_missing_or_unreachable_file_is_named_by_its_role(where, role, capsys, tmp_path):
    for missing, fragment in ((tmp_path / "nope.json", "does not exist"),
                              (Path("~nosuchuser/summary.json"), "user 'nosuchuser' has no home directory here"),
                              (tmp_path / ("x" * 300), "File name too long")):
        files = [str(VALID_SUMMARY), str(VALID_SUMMARY)]
        files[where] = str(missing)
        assert main(["compare", *files]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {role} "), err
        assert fragment in err
        assert len(err) < 500
