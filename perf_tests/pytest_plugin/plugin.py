"""The pytest plugin (registered through the ``pytest11`` entry point).

It adds the ``perf`` option group, runs the scenario once per pytest session (the ``perf_outcome``
fixture), parametrizes tests that take ``perf_entry`` with one item per scenario entry, and prints the
results table in the terminal summary. ``test_performance.py`` at the repository root is the test that
uses it: ``pytest test_performance.py::TestPerformance::test_scenario``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from perf_tests.errors import PerfTestsError

__all__ = ["PerfEntry", "session_arguments", "store_outcome", "verdict_properties"]

_OUTCOME_KEY = pytest.StashKey[Any]()
_SESSION_KEY = pytest.StashKey[Any]()
_EXIT_STATUS_KEY = pytest.StashKey[int]()
_ERROR_ID = "scenario-error"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perf", "performance scenarios (perf-tests)")
    group.addoption("--scenario", default=None, help="scenario file: a name in test_data/scenarios/ or a path "
                    "(default: $SCENARIO_FILE_NAME or smoke.json)")
    group.addoption("--perf-results-dir", default=None, help="results directory (default: $PERF_RESULTS_DIR "
                    "or results/<timestamp>)")
    group.addoption("--perf-data-dir", default=None, help="folder with scenarios/ and pipeline_files/ "
                    "(default: ./test_data)")
    group.addoption("--baseline", default=None, help="a previous run's summary.json, or an s3:// reference "
                    "(s3://bucket/prefix/latest), to compare with (default: $PERF_BASELINE); regressions fail "
                    "the entry")
    group.addoption("--max-regression", default=None, help="tolerated change against the baseline, e.g. 10%% "
                    "(default: $PERF_MAX_REGRESSION or 10%%)")
    group.addoption("--perf-shard-lead", default=None, type=float, help="with pytest -n N: seconds ahead of "
                    "now the shards' shared start time is set (default: 5; later if a worker is not prepared by then)")


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):  # pytest -n N: one scenario split over the workers
        from perf_tests.scaleout.xdist import install

        install(config)


class PerfEntry:
    """One scenario entry as a test parameter: its name, or the error that stopped the scenario loading."""

    def __init__(self, name: str, error: str | None = None) -> None:
        self.name = name
        self.error = error

    def __repr__(self) -> str:
        return self.name


def session_arguments(config: pytest.Config) -> dict[str, Any]:
    """``PerfSession`` keyword arguments from the perf options (``PerfTestsError`` for a bad one)."""
    from perf_tests.baseline import baseline_options

    results = config.getoption("--perf-results-dir")
    data = config.getoption("--perf-data-dir")
    baseline = config.getoption("--baseline")
    max_regression = config.getoption("--max-regression")
    return {
        "scenario": config.getoption("--scenario"),
        "data_dir": Path(data).resolve() if data else Path(str(config.rootpath)) / "test_data",
        "results_dir": Path(results) if results else None,
        "baseline": baseline or None,  # a path or an s3:// reference
        "baseline_options": baseline_options(max_regression) if max_regression is not None else None,
    }


def _session(config: pytest.Config) -> Any:
    """The run's PerfSession, made once per pytest session (the error when the settings are invalid)."""
    if _SESSION_KEY not in config.stash:
        from perf_tests.session.session import PerfSession

        try:
            config.stash[_SESSION_KEY] = PerfSession(**session_arguments(config))
        except PerfTestsError as exc:
            config.stash[_SESSION_KEY] = exc
    return config.stash[_SESSION_KEY]


perf_session_or_error = _session


def store_outcome(config: pytest.Config, outcome: Any) -> None:
    """Keep a run's outcome for the terminal summary (the xdist controller's merged run)."""
    config.stash[_OUTCOME_KEY] = outcome


def verdict_properties(outcome: Any, name: str) -> list[tuple[str, object]]:
    """JUnit properties of one entry: its operations' numbers, each check and what it measured."""
    verdict = outcome.verdict(name)
    part = outcome.document.part(name)
    properties: list[tuple[str, object]] = []
    for op_name, op in part.operations.items():
        for key in ("count", "failed", "p50_ms", "p95_ms", "p99_ms", "throughput"):
            value = getattr(op, key)
            if value is not None:
                properties.append((f"{op_name}.{key}", value))
    for check in verdict.checks:
        properties.append((f"check.{check.name}", "pass" if check.passed else "fail"))
        # Thresholds and baseline regressions: what was measured against what limit, for CI dashboards.
        if check.name not in ("ran", "failures") and check.measured is not None:
            properties.append((f"check.{check.name}.measured", check.measured))
            properties.append((f"check.{check.name}.limit", check.limit))
    return properties


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "perf_entry" not in metafunc.fixturenames:
        return
    session = _session(metafunc.config)
    if isinstance(session, PerfTestsError):
        metafunc.parametrize("perf_entry", [PerfEntry(_ERROR_ID, str(session))], ids=[_ERROR_ID])
        return
    try:
        names = [entry.name for entry in session.scenario.entries]
    except PerfTestsError as exc:
        metafunc.parametrize("perf_entry", [PerfEntry(_ERROR_ID, str(exc))], ids=[_ERROR_ID])
        return
    metafunc.parametrize("perf_entry", [PerfEntry(name) for name in names], ids=names)


@pytest.fixture(scope="session")
def perf_session(request: pytest.FixtureRequest) -> Any:
    """The run's ``PerfSession`` (settings, scenario, results directory)."""
    session = _session(request.config)
    if isinstance(session, PerfTestsError):
        pytest.fail(str(session), pytrace=False)
    return session


@pytest.fixture(scope="session")
def perf_outcome(request: pytest.FixtureRequest, perf_session: Any) -> Any:
    """Runs the scenario once per pytest session and returns its ``CompletedRun``."""
    config = request.config
    if _OUTCOME_KEY not in config.stash:
        try:
            config.stash[_OUTCOME_KEY] = perf_session.run()
        except PerfTestsError as exc:
            config.stash[_OUTCOME_KEY] = exc
    outcome = config.stash[_OUTCOME_KEY]
    if isinstance(outcome, PerfTestsError):
        pytest.fail(str(outcome), pytrace=False)
    return outcome


@pytest.fixture
def perf_verdict(perf_entry: PerfEntry, request: pytest.FixtureRequest) -> Any:
    """The verdict of this item's scenario entry (the run happens on first use)."""
    if perf_entry.error is not None:
        pytest.fail(perf_entry.error, pytrace=False)
    outcome = request.getfixturevalue("perf_outcome")
    request.node.user_properties.extend(verdict_properties(outcome, perf_entry.name))
    return outcome.verdict(perf_entry.name)


def assert_entry_passed(verdict: Any) -> None:
    """Fail the test with the messages of the entry's failed checks (no traceback)."""
    if not verdict.passed:
        pytest.fail("\n".join(c.message for c in verdict.failures()), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    outcome = config.stash.get(_OUTCOME_KEY, None)
    if outcome is None or isinstance(outcome, PerfTestsError):
        return
    terminalreporter.write_sep("=", "performance results")
    terminalreporter.write_line(outcome.table())
    if outcome.document.scaleout is not None:
        from perf_tests.scaleout.merge import shard_lines

        for line in shard_lines(outcome.document):
            terminalreporter.write_line(line)
    terminalreporter.write_line(f"results: {outcome.results_dir}")
    terminalreporter.write_line(f"report: {outcome.results_dir / 'report.html'}")
    if os.environ.get("CI"):
        terminalreporter.write_line(f"summary: {outcome.results_dir / 'summary.json'}")
    if outcome.upload is not None:
        terminalreporter.write_line(outcome.upload.describe(), red=not outcome.upload.ok)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    outcome = session.config.stash.get(_OUTCOME_KEY, None)
    if getattr(outcome, "upload_failed", False) and session.exitstatus == pytest.ExitCode.OK:
        # PERF_UPLOAD_REQUIRED=true: the results could not be uploaded, which fails the run.
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    session.config.stash[_EXIT_STATUS_KEY] = int(session.exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """After a hung entry is reported, leave at once, as ``python -m perf_tests run`` does.

    A hung entry's thread is still blocked in a call (until that call's deadline, maybe minutes away), and
    interpreter shutdown joins the scheduler's worker threads; everything is written and reported by now
    (JUnit XML and the terminal summary come before ``pytest_unconfigure``).
    """
    outcome = config.stash.get(_OUTCOME_KEY, None)
    if outcome is None or isinstance(outcome, PerfTestsError) or not outcome.hung:
        return
    print(f"exiting although {', '.join(outcome.hung)} did not stop (reported as hung)", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(config.stash.get(_EXIT_STATUS_KEY, 1) or 1)
