"""The pytest plugin, tested as pytest plugins test themselves (pytest-xdist's ``testing/acceptance_test.py``):
``pytester`` builds a project in a temporary folder with a copy of ``test_performance.py`` and a tiny
scenario, and ``runpytest_subprocess`` runs pytest there, in its own process, against the embedded
simulator; the tests match its exit code, terminal output and JUnit XML.

A real run costs about two seconds of RANDOM_GETS; each run is shared by the assertions about it.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]

GETS = {"mode": "RANDOM_GETS", "startTime": 0, "runTime": "2s", "rate": 20, "endpoints": {"list_runs": 1}}
"""Two seconds of 20 list_runs calls per second: 40 calls, a run of a few seconds in all."""

PASSING = [{**GETS, "name": "gets", "thresholds": ["count(list_runs) >= 10", "failed == 0"]}, {**GETS}]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project folder holding a copy of ``test_performance.py``; no target or scenario from the caller's
    environment leaks into its runs (no ``API_HOST``: the embedded simulator)."""
    for name in list(os.environ):
        if name.startswith(("API_", "PERF_", "SCENARIO_", "EMBEDDED_")):
            monkeypatch.delenv(name)
    pytester.makepyfile(test_performance=(REPO / "test_performance.py").read_text(encoding="utf-8"))
    # Locust's pytest plugin is autoloaded where locust is installed; the repository disables it too.
    pytester.makeini("[pytest]\naddopts = -p no:locust -p no:cacheprovider\n")
    return pytester


def write_scenario(pytester: pytest.Pytester, entries: list[dict[str, Any]] | str) -> Path:
    path = pytester.path / "scenario.json"
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries), encoding="utf-8")
    return path


def run_perf(pytester: pytest.Pytester, entries: list[dict[str, Any]] | str, *args: str) -> pytest.RunResult:
    """``pytest test_performance.py --scenario <file> -v`` in the project, results in ``results/``."""
    scenario = write_scenario(pytester, entries)
    return pytester.runpytest_subprocess(
        "test_performance.py", "--scenario", str(scenario), "--perf-results-dir", str(pytester.path / "results"),
        "-v", *args, timeout=120,
    )


def test_help_lists_the_perf_options_in_their_own_group(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "performance scenarios (perf-tests):",
        "*--scenario=SCENARIO*scenario file*",
        "*--perf-results-dir=*",
        "*--perf-data-dir=*",
        "*--baseline=BASELINE*",
        "*--max-regression=*",
        "*--perf-shard-lead=PERF_SHARD_LEAD*",
        "*with pytest -n N*",
    ])  # fmt: skip


def test_collection_makes_one_item_per_entry_without_running_the_scenario(project: pytest.Pytester) -> None:
    scenario = write_scenario(project, PASSING)
    result = project.runpytest_subprocess("test_performance.py", "--scenario", str(scenario), "--collect-only",
                                          "-q", "--perf-results-dir", str(project.path / "results"))
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "test_performance.py::TestPerformance::test_scenario[[]gets[]]",
        "test_performance.py::TestPerformance::test_scenario[[]RANDOM_GETS#1[]]",
        "2 tests collected*",
    ])  # fmt: skip
    assert "performance results" not in result.stdout.str()
    assert not (project.path / "results" / "summary.json").exists()


def test_a_passing_run_prints_the_table_and_fills_junit_properties(project: pytest.Pytester) -> None:
    """One run for everything a passing scenario shows: the items and their outcome, the terminal summary,
    the results files and the JUnit properties, selected with the original node id spelling."""
    junit = project.path / "junit.xml"
    scenario = write_scenario(project, PASSING)
    result = project.runpytest_subprocess(
        "test_performance.py::TestPerformance::test_scenario", "--scenario", str(scenario),
        "--perf-results-dir", str(project.path / "results"), "-v", "--junitxml", str(junit), timeout=120,
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*test_scenario[[]gets[]] PASSED*",
        "*test_scenario[[]RANDOM_GETS#1[]] PASSED*",
        "*= performance results =*",
        "target: embedded KFP simulator at http://127.0.0.1:* (not a cluster)",
        "gets (RANDOM_GETS, *) PASSED",
        "  operation * count * failed * p95 *",
        "  list_runs * 0 *",
        "  [[]PASS[]] count(list_runs) >= 10 passed: measured *, limit 10",
        "RANDOM_GETS#1 (RANDOM_GETS, *) PASSED",
        f"results: {project.path / 'results'}",
        f"report: {project.path / 'results' / 'report.html'}",
    ], consecutive=False)  # fmt: skip
    assert (project.path / "results" / "summary.json").is_file()
    summary = json.loads((project.path / "results" / "summary.json").read_text())
    assert [s["name"] for s in summary["scenarios"]] == ["gets", "RANDOM_GETS#1"]

    cases = {case.attrib["name"]: case for case in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"test_scenario[gets]", "test_scenario[RANDOM_GETS#1]"}
    properties = {p.attrib["name"]: p.attrib["value"] for p in cases["test_scenario[gets]"].iter("property")}
    calls = summary["scenarios"][0]["operations"]["list_runs"]["count"]
    assert properties["list_runs.count"] == str(calls) and calls >= 10
    assert properties["list_runs.failed"] == "0"
    assert float(properties["list_runs.p95_ms"]) > 0
    assert properties["check.count(list_runs) >= 10"] == "pass"
    assert float(properties["check.count(list_runs) >= 10.measured"]) == calls
    assert float(properties["check.count(list_runs) >= 10.limit"]) == 10


def test_a_failing_threshold_fails_its_item_with_the_measured_value(project: pytest.Pytester) -> None:
    entries = [{**GETS, "name": "strict", "thresholds": ["count(list_runs) >= 1000000"]}, {**GETS, "name": "lax"}]
    result = run_perf(project, entries)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_scenario[[]strict[]] FAILED*",
        "*test_scenario[[]lax[]] PASSED*",
        "*strict: count(list_runs) >= 1000000 failed: measured *, limit 1000000*",
        "*= performance results =*",
    ], consecutive=False)  # fmt: skip
    assert "Traceback" not in result.stdout.str()
    assert "assert_entry_passed" not in result.stdout.str()  # pytrace=False: the message, not the test's code


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{\"mode\": \"RANDOM_GETS\", \"startTime\": 0, \"runTime\": \"2s\", \"rate\": \"fast\"}]",
         "*scenario.json: entry 0 (RANDOM_GETS#0): field 'rate': Input should be a valid number*(got \"fast\")"),
        ("[{\"mode\": ", "*scenario.json: invalid JSON at line 1, column 11*"),
    ],
    ids=["bad-field", "not-json"],
)
def test_a_bad_scenario_file_errors_one_item_with_the_message_and_no_traceback(
    project: pytest.Pytester, content: str, message: str
) -> None:
    result = run_perf(project, content)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=1)  # the item's fixture fails: nothing ran, so no verdict either
    result.stdout.fnmatch_lines(["*test_scenario[[]scenario-error[]] ERROR*", message], consecutive=False)
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "performance results" not in output


# -- pytest -n N (scale-out with pytest-xdist) -----------------------------------------------------
# What the shards measure, merged exactly, is tests/integration/scaleout/test_correctness.py; here, what
# the plugin shows of it: the same items, verdicts and JUnit properties as without -n, one table.


def test_pytest_n_2_reports_one_item_per_entry_and_one_merged_table(project: pytest.Pytester) -> None:
    junit = project.path / "junit.xml"
    result = run_perf(project, PASSING, "-n", "2", "--junitxml", str(junit))  # the default lead: a loaded machine
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=4)  # one shard item per worker, then the controller's one item per entry
    result.stdout.fnmatch_lines([
        "*PASSED*perf_shard[[]0/2[]]*",
        "*PASSED*perf_shard[[]1/2[]]*",
        "*test_scenario[[]gets[]] PASSED*",
        "*test_scenario[[]RANDOM_GETS#1[]] PASSED*",
        "*= performance results =*",
        "gets (RANDOM_GETS, *) PASSED",
        "  [[]PASS[]] count(list_runs) >= 10 passed: measured *, limit 10",
        "scale-out: 2 shards, merged*",
    ], consecutive=False)  # fmt: skip
    assert result.stdout.str().count("= performance results =") == 1
    summary = json.loads((project.path / "results" / "summary.json").read_text())
    calls = summary["scenarios"][0]["operations"]["list_runs"]["count"]
    shards = [json.loads((project.path / "results" / f"shard-{index}" / "summary.json").read_text())
              for index in range(2)]
    # 20/s for 2 s, split between the shards and merged: the one schedule, once. Exact, on a loaded machine too:
    # a shard keeps the shared anchor however late it starts, and the arrivals due before the entry's end are
    # sent though the dispatcher reaches them a few ms after the stop (both once lost arrivals at random).
    assert [s["scenarios"][0]["operations"]["list_runs"]["count"] for s in shards] == [20, 20]
    assert calls == 40
    cases = {case.attrib["name"]: case for case in ET.parse(junit).getroot().iter("testcase")}
    assert {"test_scenario[gets]", "test_scenario[RANDOM_GETS#1]"} <= set(cases)
    properties = {p.attrib["name"]: p.attrib["value"] for p in cases["test_scenario[gets]"].iter("property")}
    assert properties["list_runs.count"] == str(calls)  # in the file as without -n (JUnit reads them at teardown)
    assert properties["check.count(list_runs) >= 10"] == "pass"
