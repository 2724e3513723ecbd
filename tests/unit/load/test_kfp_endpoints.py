"""The KFP read workload: endpoint choice, id pools, list fallbacks, query parameters, total_size."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from perf_tests.load import DEFAULT_ENDPOINT_MIX, KFP_ENDPOINTS, ConstantArrivals, KfpGetsWorkload, LoadEngine
from perf_tests.load.kfp_endpoints import total_size
from tests.unit.load.load_helpers import new_session


def run_workload(server, recorder, mix, rate=200.0, seconds=0.5, **options):
    async def main():
        async with new_session() as session:
            workload = KfpGetsWorkload(session, server.url, mix, rng=random.Random(5), **options)
            engine = LoadEngine(ConstantArrivals(rate, duration=seconds), workload, recorder)
            return await engine.run(), workload

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("body", "size"),
    [
        (b'{"runs":[{"run_id":"a"}],"total_size":1,"next_page_token":"x"}', 1),
        (b'{"runs": [], "total_size": 12345}', 12345),
        (b'{"total_size":"77"}', 77),
        (b"{}", 0),
        (b'{"total_size":}', 0),
        (b'{"runs":[{"display_name":"total_size"}],"total_size":3}', 3),
    ],
)
def test_total_size_is_read_without_parsing(body, size):
    assert total_size(body) == size


def test_get_calls_fall_back_to_list_calls_on_an_empty_server(server, make_recorder, collected):
    result, workload = run_workload(server, make_recorder(), {"get_run": 1, "get_pipeline": 1})
    assert result.sent == result.ok == 100
    assert {a.operation for a in collected.aggregates} == {"list_runs", "list_pipelines"}
    assert collected.attempts("list_runs") + collected.attempts("list_pipelines") == 100
    assert server.hits["/apis/v2beta1/runs"] > 0
    assert workload.pool_size("runs") == 0


def test_get_calls_use_ids_from_the_list_answers(server, make_recorder, collected):
    server.ids["runs"] = ["run-a", "run-b", "run-c"]
    server.ids["pipelines"] = ["pipe-1"]
    result, workload = run_workload(server, make_recorder(), {"get_run": 3, "list_pipeline_versions": 1,
                                                             "get_pipeline": 1})
    assert result.failed == 0
    assert workload.pool_size("runs") == 3
    # The first get_run of each pool is a list call; every later one hits a known id.
    assert collected.attempts("list_runs") >= 1
    assert collected.attempts("get_run") >= 40
    run_hits = {path for path in server.hits if path.startswith("/apis/v2beta1/runs/")}
    assert run_hits <= {"/apis/v2beta1/runs/run-a", "/apis/v2beta1/runs/run-b", "/apis/v2beta1/runs/run-c"}
    assert len(run_hits) == 3  # random choice reaches every id
    assert server.hits["/apis/v2beta1/pipelines/pipe-1"] >= 5
    assert server.hits["/apis/v2beta1/pipelines/pipe-1/versions"] >= 5


def test_list_calls_send_page_size_sort_by_and_namespace(server, make_recorder):
    server.ids["pipelines"] = ["pipe-1"]
    run_workload(server, make_recorder(), {"list_runs": 1, "list_experiments": 1, "list_pipelines": 1,
                                           "list_pipeline_versions": 1},
                 page_size=7, sort_by="name asc", namespace="team-a")
    expected = {"page_size": "7", "sort_by": "name asc", "namespace": "team-a"}
    for kind in ("runs", "experiments", "pipelines"):
        assert server.queries[kind]
        assert all(query == expected for query in server.queries[kind])
    assert all(query == {"page_size": "7", "sort_by": "name asc"} for query in server.queries["versions"])


def test_list_calls_without_sort_or_namespace(server, make_recorder):
    run_workload(server, make_recorder(), {"list_runs": 1}, seconds=0.1, sort_by=None)
    assert all(query == {"page_size": "10"} for query in server.queries["runs"])


def test_list_calls_record_the_table_size_per_second(server, make_recorder, collected):
    server.ids["runs"] = [f"run-{i}" for i in range(42)]
    run_workload(server, make_recorder(), {"list_runs": 1, "healthz": 1})
    list_aggregates = [a for a in collected.aggregates if a.operation == "list_runs"]
    assert list_aggregates
    assert all(a.attrs == {"total_size": 42} for a in list_aggregates)
    assert all(not a.attrs for a in collected.aggregates if a.operation == "healthz")


def test_unknown_ids_are_recorded_as_not_found(server, make_recorder, collected):
    server.ids["runs"] = ["gone"]

    async def main():
        async with new_session() as session:
            workload = KfpGetsWorkload(session, server.url, {"get_run": 1})
            engine = LoadEngine(ConstantArrivals(100, duration=0.3), workload, make_recorder())
            first = await engine.run()
            server.ids["runs"] = []  # the run is deleted; the pool still has it until the next refresh
            engine = LoadEngine(ConstantArrivals(100, duration=0.3), workload, make_recorder())
            return first, await engine.run()

    first, second = asyncio.run(main())
    assert first.failed == 0
    assert second.failed == second.sent == 30
    assert {e.error_type for e in collected.operations} == {"http_404"}


def test_endpoint_weights_decide_the_mix():
    workload = KfpGetsWorkload(None, "http://unused", {"list_runs": 3, "healthz": 1}, rng=random.Random(1))  # type: ignore[arg-type]
    picks = Counter(workload.pick().name for _ in range(20_000))
    assert picks["list_runs"] / 20_000 == pytest.approx(0.75, abs=0.015)
    assert set(picks) == {"list_runs", "healthz"}


def test_default_mix_is_ui_like_and_known():
    assert set(DEFAULT_ENDPOINT_MIX) <= set(KFP_ENDPOINTS)
    assert max(DEFAULT_ENDPOINT_MIX, key=lambda name: DEFAULT_ENDPOINT_MIX[name]) == "list_runs"


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ({"list_jobs": 1}, "unknown endpoint.*list_jobs.*valid: list_runs, get_run"),
        ({"list_runs": 0}, "at least one > 0"),
        ({"list_runs": -1, "get_run": 1}, "must be >= 0"),
    ],
)
def test_invalid_mixes(mix, message):
    with pytest.raises(ValueError, match=message):
        KfpGetsWorkload(None, "http://unused", mix)  # type: ignore[arg-type]


def test_unserved_says_which_endpoints_were_sent_as_list_calls(server, make_recorder, collected):
    # Runs exist, pipelines do not: get_run falls back only until list_runs answered; get_pipeline and
    # list_pipeline_versions never get an id, so they were never called.
    server.ids["runs"] = ["run-a"]
    _, workload = run_workload(server, make_recorder(), {"get_run": 2, "get_pipeline": 1,
                                                        "list_pipeline_versions": 1, "healthz": 1})
    fallbacks = workload.fallbacks
    assert set(fallbacks) == {"get_run", "get_pipeline", "list_pipeline_versions"}
    assert fallbacks["get_pipeline"] + fallbacks["list_pipeline_versions"] == collected.attempts("list_pipelines")
    lines = workload.unserved()
    assert lines == [
        f"get_pipeline was never called: no list_pipelines answer listed any pipelines, so "
        f"{all_its(fallbacks['get_pipeline'])} sent as list_pipelines",
        f"get_run: {plural(fallbacks['get_run'])} sent as list_runs before the first run ids were known",
        f"list_pipeline_versions was never called: no list_pipelines answer listed any pipelines, so "
        f"{all_its(fallbacks['list_pipeline_versions'])} sent as list_pipelines",
    ]
    assert collected.attempts("get_run") > 0


def test_nothing_unserved_when_no_endpoint_needs_an_id(server, make_recorder, collected):
    _, workload = run_workload(server, make_recorder(), {"list_runs": 1, "healthz": 1})
    assert workload.unserved() == []


def plural(count: int) -> str:
    return "1 arrival was" if count == 1 else f"{count} arrivals were"


def all_its(count: int) -> str:
    return "its 1 arrival was" if count == 1 else f"all its {count} arrivals were"
