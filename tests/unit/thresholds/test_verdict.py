"""The default verdict: an entry passes when it ran and its failures stay within allowedFailureRate."""

import pytest

from perf_tests.results import ScenarioPart
from perf_tests.thresholds.verdict import Check, EntryVerdict, default_checks, judge_entry


def part(status="passed", count=100, failed=0, errors=None, message=None):
    """An entry's summary.json part, as scenario_summary builds it."""
    return ScenarioPart.model_validate({
        "name": "runs",
        "mode": "PIPELINE_RUN",
        "status": status,
        "message": message,
        "operations": {
            "create_run": {"count": count, "failed": failed, "errors": errors or {}},
            "get_run": {"count": 0, "failed": 0, "errors": {}},
        },
        "totals": {"count": count, "failed": failed, "dropped": 0},
    })


def test_a_clean_run_passes():
    verdict = judge_entry(part(), 0.0)
    assert verdict.passed
    assert verdict.failures() == []
    assert [(c.name, c.passed, c.message) for c in verdict.checks] == [
        ("ran", True, "ran to its end"),
        ("failures", True, "0 of 100 operations failed"),
    ]


def test_any_failure_fails_by_default():
    verdict = judge_entry(part(failed=1, errors={"http_500": 1}), 0.0)
    assert not verdict.passed
    (failure,) = verdict.failures()
    assert failure.name == "failures"
    assert failure.message == "runs: 1 of 100 operations failed (1.0%, allowed 0.0%): create_run: 1x http_500"
    assert (failure.measured, failure.limit) == (0.01, 0.0)


@pytest.mark.parametrize(("failed", "passes"), [(4, True), (5, True), (6, False)])
def test_allowed_failure_rate_is_inclusive(failed, passes):
    assert judge_entry(part(failed=failed, errors={"timeout": failed}), 0.05).passed is passes


def test_the_message_names_the_first_error_types():
    scenario = part(failed=10, errors={"http_500": 4, "timeout": 3, "connection": 2, "http_404": 1})
    (failure,) = judge_entry(scenario, 0.0).failures()
    assert failure.message.endswith("create_run: 4x http_500; create_run: 3x timeout; create_run: 2x connection")


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("error", "RuntimeError: cannot connect", "runs could not run: RuntimeError: cannot connect"),
        ("error", None, "runs could not run: failed"),
        ("not_run", None, "runs could not run: did not run"),
        ("hung", "did not stop in time", "runs could not run: did not stop in time"),
    ],
)
def test_an_entry_that_did_not_run_fails(status, message, expected):
    verdict = judge_entry(part(status=status, count=0, message=message), 0.0)
    assert not verdict.passed
    ran = verdict.checks[0]
    assert (ran.name, ran.passed, ran.message, ran.measured) == ("ran", False, expected, status)


def test_an_entry_with_no_operations_has_no_failure_rate():
    checks = default_checks(part(count=0), 0.0)
    assert checks[1] == Check("failures", True, "0 of 0 operations failed", 0.0, 0.0)


def test_verdict_json():
    verdict = judge_entry(part(failed=2, errors={"http_500": 2}), 0.0)
    data = verdict.as_json()
    assert data["name"] == "runs"
    assert data["mode"] == "PIPELINE_RUN"
    assert data["passed"] is False
    assert [c["name"] for c in data["checks"]] == ["ran", "failures"]
    assert set(data["checks"][1]) == {"name", "passed", "message", "measured", "limit"}


def test_an_entry_passes_only_when_every_check_does():
    verdict = EntryVerdict("e", "M", [Check("a", True, "ok"), Check("b", False, "no")])
    assert not verdict.passed
    assert [c.name for c in verdict.failures()] == ["b"]
    assert EntryVerdict("e", "M").passed  # no checks, nothing failed
