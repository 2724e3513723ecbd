"""Reading the report block and the failing step out of a TaskRun pod."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perf_tests.tekton.logs import extract_report, failed_step, format_report_block, step_containers

REPORT = json.dumps({"benchmarks": [{"metrics": {"x": list(range(500))}}]}).encode()


@pytest.mark.parametrize("encoding", ["gzip+base64", "json"])
def test_report_round_trip(encoding: str) -> None:
    log = "guidellm starting\nsome progress\n" + format_report_block(REPORT, "bench.json", encoding) + "bye\n"
    assert extract_report(log) == ("bench.json", REPORT)


def test_gzip_block_lines_are_short() -> None:
    block = format_report_block(REPORT)
    assert max(len(line) for line in block.splitlines()[1:-1]) <= 76


def test_last_complete_block_wins_and_a_cut_block_is_ignored() -> None:
    first = format_report_block(b'{"first": 1}', "a.json")
    second = format_report_block(b'{"second": 2}', "b.json")
    cut = format_report_block(b'{"third": 3}', "c.json").splitlines()[:2]
    assert extract_report(first + second + "\n".join(cut)) == ("b.json", b'{"second": 2}')
    broken = format_report_block(REPORT).splitlines()
    broken[1] = broken[1][:-4]  # damaged gzip data
    assert extract_report("\n".join(broken)) is None
    assert extract_report("no report here") is None


def pod(statuses: list[dict[str, Any]], order: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": n} for n in order]},
        "status": {"containerStatuses": statuses},
    }


def test_first_failed_step_in_step_order() -> None:
    statuses = [
        {"name": "step-report", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}},
        {"name": "step-load", "state": {"terminated": {"exitCode": 2, "reason": "Error", "message": "bad param"}}},
        {"name": "step-prepare", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
    ]
    the_pod = pod(statuses, ["step-prepare", "step-load", "step-report", "sidecar-x"])
    assert step_containers(the_pod) == ["step-prepare", "step-load", "step-report"]
    failure = failed_step(the_pod)
    assert failure is not None
    assert (failure.step, failure.exit_code, failure.reason) == ("load", 2, "Error")
    assert failure.describe() == "step 'load': Error, exit code 2 (bad param)"


def test_image_pull_failure_is_a_failed_step() -> None:
    statuses = [
        {"name": "step-load", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}
    ]
    failure = failed_step(pod(statuses, ["step-load"]))
    assert failure is not None
    assert failure.describe() == "step 'load': ImagePullBackOff (Back-off pulling image)"
    assert (
        failed_step(pod([{"name": "step-load", "state": {"waiting": {"reason": "PodInitializing"}}}], ["step-load"]))
        is None
    )


def test_termination_message_with_results_is_not_quoted() -> None:
    statuses = [
        {
            "name": "step-load",
            "state": {
                "terminated": {"exitCode": 1, "reason": "Error", "message": '[{"key":"StartedAt","value":"2024"}]'}
            },
        }
    ]
    failure = failed_step(pod(statuses, ["step-load"]))
    assert failure is not None
    assert failure.message == ""
