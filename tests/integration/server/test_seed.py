"""Seeding the embedded simulator: counts, what the real kfp client then sees, faults, bad plans."""

from __future__ import annotations

import kfp
import pytest
from pydantic import ValidationError

from perf_tests.server import EmbeddedKfpServer
from perf_tests.server.seed import SeedError, SeedPlan, seed_simulator


def objects(server: EmbeddedKfpServer) -> dict[str, int]:
    return dict(server.stats()["objects"])


def test_a_fresh_simulator_gets_the_plan_and_the_kfp_client_sees_it(fresh_kfp_server: EmbeddedKfpServer) -> None:
    result = seed_simulator(fresh_kfp_server.url, SeedPlan(pipelines=2, experiments=3, runs=7))
    assert (len(result.pipelines), len(result.pipeline_versions), len(result.experiments), len(result.runs)) == (
        2, 2, 2, 7)  # the Default experiment counts as one of the three
    counts = objects(fresh_kfp_server)
    assert (counts["pipelines"], counts["experiments"], counts["runs"]) == (2, 3, 7)
    assert "2 pipelines, 2 experiments and 7 runs" in result.describe()
    assert result.requests == 1 + 2 + 2 * 2 + 7  # stats, experiments, pipeline + version each, runs

    client = kfp.Client(host=fresh_kfp_server.url)
    runs = client.list_runs(page_size=100).runs
    assert {run.run_id for run in runs} == set(result.runs)
    assert {run.experiment_id for run in runs} == set(result.experiments)
    run = client.get_run(result.runs[0])
    assert run.pipeline_version_reference.pipeline_version_id in result.pipeline_versions
    assert client.get_pipeline(result.pipelines[0]).display_name.startswith("perf-tests-seed-")


def test_seeding_tops_up_to_at_least_the_plan(fresh_kfp_server: EmbeddedKfpServer) -> None:
    plan = SeedPlan(pipelines=1, experiments=2, runs=4)
    first = seed_simulator(fresh_kfp_server.url, plan)
    assert first.created
    again = seed_simulator(fresh_kfp_server.url, plan)
    assert not again.created
    assert "nothing seeded" in again.describe()
    more = seed_simulator(fresh_kfp_server.url, SeedPlan(pipelines=1, experiments=2, runs=6))
    assert (len(more.pipelines), len(more.experiments), len(more.runs)) == (1, 0, 2)  # runs need a pipeline
    assert objects(fresh_kfp_server)["runs"] == 6


def test_dropped_set_up_calls_are_retried(fresh_kfp_server: EmbeddedKfpServer) -> None:
    # The simulator's faults have no side effects, so a dropped create can be sent again safely.
    fresh_kfp_server.configure(drop_probability=0.3, error_probability=0.1, seed=3)
    result = seed_simulator(fresh_kfp_server.url, SeedPlan(pipelines=2, experiments=2, runs=10))
    counts = objects(fresh_kfp_server)
    assert (counts["pipelines"], counts["experiments"], counts["runs"]) == (2, 2, 10)
    assert result.requests == 1 + 1 + 2 * 2 + 10
    assert fresh_kfp_server.stats()["faults"].get("drop", 0) > 0


def test_an_unreachable_server_is_a_seed_error(fresh_kfp_server: EmbeddedKfpServer) -> None:
    fresh_kfp_server.stop()
    with pytest.raises(SeedError, match=r"GET /_admin/stats failed"):
        seed_simulator(fresh_kfp_server.url, SeedPlan(), timeout=2)


def test_a_plan_with_runs_needs_a_pipeline() -> None:
    with pytest.raises(ValidationError, match="runs need at least one pipeline"):
        SeedPlan(pipelines=0, runs=3)
    with pytest.raises(ValidationError):
        SeedPlan(runs=-1)
    assert SeedPlan(pipelines=0, runs=0, experiments=0).runs == 0
