"""Injected faults as the real kfp.Client experiences them: 5xx, added latency, drops and hangs."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import kfp
import kfp_server_api
import pytest
import urllib3

from perf_tests.server import EmbeddedKfpServer


def default_experiment_id(client: kfp.Client) -> str:
    return str(client.get_experiment(experiment_name="Default").experiment_id)


def latencies_ms(call: Callable[[], object], n: int = 25) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def test_error_probability_gives_about_that_share_of_500s(
    fresh_kfp_server: EmbeddedKfpServer, fresh_kfp_client: kfp.Client
) -> None:
    experiment_id = default_experiment_id(fresh_kfp_client)
    fresh_kfp_server.configure(error_probability=0.2, seed=7)
    statuses = []
    for _ in range(300):
        try:
            fresh_kfp_client.get_experiment(experiment_id=experiment_id)
            statuses.append(200)
        except kfp_server_api.ApiException as exc:
            statuses.append(exc.status)
    errors = statuses.count(500)
    assert set(statuses) <= {200, 500}
    assert 30 <= errors <= 95, errors  # 60 expected; the seeded draw makes this exact, the bounds robust
    stats = fresh_kfp_server.stats()
    assert stats["faults"]["error"] == errors
    assert stats["by_route"]["GET /apis/v2beta1/experiments/{experiment_id}"]["500"] == errors


def test_seeded_faults_repeat(fresh_kfp_server: EmbeddedKfpServer, fresh_kfp_client: kfp.Client) -> None:
    experiment_id = default_experiment_id(fresh_kfp_client)

    def sequence() -> list[int]:
        fresh_kfp_server.configure(error_probability=0.5, seed=None)
        fresh_kfp_server.configure(seed=99)
        result = []
        for _ in range(40):
            try:
                fresh_kfp_client.get_experiment(experiment_id=experiment_id)
                result.append(200)
            except kfp_server_api.ApiException as exc:
                result.append(exc.status)
        return result

    first = sequence()
    assert 200 in first
    assert 500 in first
    assert sequence() == first


def test_added_latency_shows_in_client_latency(
    fresh_kfp_server: EmbeddedKfpServer, fresh_kfp_client: kfp.Client
) -> None:
    experiment_id = default_experiment_id(fresh_kfp_client)

    def call() -> None:
        fresh_kfp_client.get_experiment(experiment_id=experiment_id)

    baseline = statistics.median(latencies_ms(call))
    fresh_kfp_server.configure(latency_ms=60)
    slowed = latencies_ms(call)
    assert min(slowed) >= 59  # the added latency is a floor for every call
    assert statistics.median(slowed) > baseline
    assert statistics.median(slowed) < 60 + baseline + 500  # generous: the machine is shared
    fresh_kfp_server.configure(latency_ms=0, latency_spike_probability=1.0, latency_spike_ms=40)
    spiked = latencies_ms(call, n=10)
    assert min(spiked) >= 39
    assert fresh_kfp_server.stats()["faults"]["spike"] == 10


def test_dropped_connections_are_client_errors(
    fresh_kfp_server: EmbeddedKfpServer, fresh_kfp_client: kfp.Client
) -> None:
    experiment_id = default_experiment_id(fresh_kfp_client)
    fresh_kfp_server.configure(drop_probability=1.0)
    with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:  # GETs are retried, then given up
        fresh_kfp_client.get_experiment(experiment_id=experiment_id)
    assert isinstance(caught.value.reason, urllib3.exceptions.ProtocolError)
    with pytest.raises(urllib3.exceptions.ProtocolError):  # POSTs are not retried
        fresh_kfp_client._experiment_api.experiment_service_create_experiment(
            kfp_server_api.V2beta1Experiment(display_name="never-created")
        )
    stats = fresh_kfp_server.stats()
    assert stats["faults"]["drop"] == 5
    assert stats["objects"]["experiments"] == 1  # faulted requests have no side effects

    fresh_kfp_server.configure(drop_probability=0.0)
    assert fresh_kfp_client.get_experiment(experiment_id=experiment_id).display_name == "Default"


def test_hung_requests_time_out_and_stop_releases_them() -> None:
    server = EmbeddedKfpServer(seed=1)
    server.start()
    try:
        client = kfp.Client(host=server.url)
        experiment_id = default_experiment_id(client)
        server.configure(hang_probability=1.0)
        start = time.monotonic()
        with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
            client._experiment_api.experiment_service_get_experiment(experiment_id, _request_timeout=(2, 0.2))
        assert isinstance(caught.value.reason, urllib3.exceptions.ReadTimeoutError)
        assert time.monotonic() - start < 10

        # A request still hanging when the server stops gets its connection closed, not an answer.
        outcome: list[BaseException | str] = []

        def hang() -> None:
            try:
                client._experiment_api.experiment_service_get_experiment(experiment_id, _request_timeout=(2, 60))
                outcome.append("answered")
            except BaseException as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=hang)
        waiter.start()
        deadline = time.monotonic() + 10
        while server.stats()["faults"].get("hang", 0) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.stats()["faults"]["hang"] == 5
    finally:
        stop_started = time.monotonic()
        server.stop()
        assert time.monotonic() - stop_started < 5
    waiter.join(10)
    assert not waiter.is_alive()
    assert outcome
    assert outcome[0] != "answered"
    client._run_api.api_client.rest_client.pool_manager.clear()


def test_healthz_is_exempt_unless_asked(fresh_kfp_server: EmbeddedKfpServer, fresh_kfp_client: kfp.Client) -> None:
    fresh_kfp_server.configure(error_probability=1.0)
    assert fresh_kfp_client._healthz_api.healthz_service_get_healthz().pipeline_store == "database"
    fresh_kfp_server.configure(faults_on_healthz=True)
    with pytest.raises(kfp_server_api.ApiException) as caught:
        fresh_kfp_client._healthz_api.healthz_service_get_healthz()
    assert caught.value.status == 500
    fresh_kfp_server.configure(error_status=503)
    with pytest.raises(kfp_server_api.ApiException) as unavailable:
        fresh_kfp_client._healthz_api.healthz_service_get_healthz()
    assert unavailable.value.status == 503
