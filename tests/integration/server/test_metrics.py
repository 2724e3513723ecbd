"""``GET /metrics`` of the simulator, scraped as Prometheus would and parsed by prometheus_client's parser."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import kfp
import kfp_server_api
import pytest
from prometheus_client.parser import text_string_to_metric_families

from perf_tests.server import EmbeddedKfpServer

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"
RUN_SERVICE = "kubeflow.pipelines.backend.api.v2beta1.RunService"


def scrape(server: EmbeddedKfpServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_latency_runs_by_state_and_table_sizes(
    fresh_kfp_server: EmbeddedKfpServer, fresh_kfp_client: kfp.Client
) -> None:
    """Requests by route and status, latency histograms, runs by state, table sizes; the gRPC metrics under
    the names go-grpc-prometheus gives them in the real API server (``startRPCServer``)."""
    experiment = fresh_kfp_client.create_experiment("metrics")
    run = fresh_kfp_client.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)
    fresh_kfp_client.wait_for_run_completion(run.run_id, timeout=20, sleep_duration=0.05)
    for _ in range(3):
        fresh_kfp_client.list_runs(experiment_id=experiment.experiment_id)
    with pytest.raises(kfp_server_api.ApiException):
        fresh_kfp_client.get_run("no-such-run")
    samples = scrape(fresh_kfp_server)

    route = "GET /apis/v2beta1/runs"
    assert value(samples, "kfp_simulator_http_requests_total", route=route, status="200") == 3
    assert value(samples, "kfp_simulator_http_request_duration_seconds_count", route=route) == 3
    assert value(samples, "kfp_simulator_http_request_duration_seconds_bucket", route=route, le="+Inf") == 3
    assert value(samples, "kfp_simulator_http_requests_total", route="GET /apis/v2beta1/runs/{run_id}", status="404")
    grpc = {"grpc_type": "unary", "grpc_service": RUN_SERVICE}
    assert value(samples, "grpc_server_handled_total", grpc_method="ListRuns", grpc_code="OK", **grpc) == 3
    assert value(samples, "grpc_server_handled_total", grpc_method="GetRun", grpc_code="NotFound", **grpc) == 1
    assert value(samples, "grpc_server_handling_seconds_count", grpc_method="ListRuns", **grpc) == 3
    assert value(samples, "grpc_server_started_total", grpc_method="ListRuns", **grpc) == 3
    # healthz and uploads are plain HTTP handlers in KFP, not gRPC calls.
    assert not any(k[0] == "grpc_server_handled_total" and ("grpc_method", "Healthz") in k[1] for k in samples)

    assert value(samples, "kfp_simulator_runs", state="SUCCEEDED") == 1
    assert value(samples, "kfp_simulator_runs", state="RUNNING") == 0
    assert value(samples, "kfp_simulator_objects", table="runs") == 1
    assert value(samples, "kfp_simulator_objects", table="experiments") == 2  # with Default
    assert value(samples, "run_server_run_count") == 1
    assert value(samples, "experiment_server_run_count") == 2


def test_metrics_are_never_faulted_nor_counted(fresh_kfp_server: EmbeddedKfpServer) -> None:
    """Like ``/_admin``: a scrape is answered whatever the faults, and is not an API request."""
    fresh_kfp_server.configure(error_probability=1.0, latency_ms=50)
    before = fresh_kfp_server.stats()["requests_total"]
    for _ in range(3):
        scrape(fresh_kfp_server)
    samples = scrape(fresh_kfp_server)
    assert not any(name == "kfp_simulator_http_requests_total" for name, _ in samples)
    assert fresh_kfp_server.stats()["requests_total"] == before
