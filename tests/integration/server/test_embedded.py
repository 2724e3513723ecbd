"""EmbeddedKfpServer itself: ports, restart, persistence, admin endpoints, counters, keep-alive speed."""

from __future__ import annotations

import http.client
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import kfp
import kfp_server_api
import pytest
from pydantic import ValidationError

from perf_tests.server import SERVER_VERSION, TARGET_HEADER, TARGET_NAME, EmbeddedKfpServer, SimulatorConfig

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"


def get_json(server: EmbeddedKfpServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body))
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_url_and_lifecycle() -> None:
    server = EmbeddedKfpServer()
    assert not server.running
    with server:
        assert server.running
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert "running" in repr(server)
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    assert not server.running
    server.stop()  # stopping twice is harmless


def test_two_servers_get_their_own_ports() -> None:
    with EmbeddedKfpServer() as first, EmbeddedKfpServer() as second:
        assert first.port != second.port
        assert get_json(first, "GET", "/apis/v2beta1/healthz")[0] == 200
        assert get_json(second, "GET", "/apis/v2beta1/healthz")[0] == 200


def test_constructor_validates_settings() -> None:
    with pytest.raises(ValidationError):
        EmbeddedKfpServer(error_probability=2)
    with pytest.raises(ValidationError):
        EmbeddedKfpServer(no_such_setting=1)
    server = EmbeddedKfpServer(SimulatorConfig(task_seconds=3), latency_ms=5)
    assert server.config.task_seconds == 3
    assert server.config.latency_ms == 5


def test_restart_with_file_db_keeps_port_and_state(tmp_path: Path) -> None:
    server = EmbeddedKfpServer(db_path=tmp_path / "simulator.db", task_seconds=0.01, pending_seconds=0)
    with server:
        port = server.port
        client = kfp.Client(host=server.url)
        experiment = client.create_experiment("persisted")
        run = client.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)
        client._run_api.api_client.rest_client.pool_manager.clear()
        server.restart()
        assert server.port == port
        client = kfp.Client(host=server.url)
        assert client.get_experiment(experiment_name="persisted").experiment_id == experiment.experiment_id
        assert client.get_run(run.run_id).display_name == run.run_info.display_name
        assert client.list_runs(experiment_id=experiment.experiment_id).total_size == 1
        assert len(client.list_experiments().experiments) == 2  # Default is not created twice
        client._run_api.api_client.rest_client.pool_manager.clear()


def test_restart_with_memory_db_starts_empty_on_the_same_port() -> None:
    with EmbeddedKfpServer() as server:
        port = server.port
        assert get_json(server, "POST", "/apis/v2beta1/experiments", {"display_name": "gone"})[0] == 200
        server.restart()
        assert server.port == port
        _, listed = get_json(server, "GET", "/apis/v2beta1/experiments")
        assert [e["display_name"] for e in listed["experiments"]] == ["Default"]


def test_configuration_survives_restart_and_admin_changes() -> None:
    with EmbeddedKfpServer(latency_ms=1) as server:
        status, config = get_json(server, "PUT", "/_admin/config", {"task_seconds": 7})
        assert status == 200
        assert config["task_seconds"] == 7
        assert config["latency_ms"] == 1
        assert server.config.task_seconds == 7
        server.restart()
        assert server.config.task_seconds == 7
        _, shown = get_json(server, "GET", "/_admin/config")
        assert shown == server.config.model_dump()


def test_admin_info_stats_and_reset(fresh_kfp_server: EmbeddedKfpServer) -> None:
    status, info = get_json(fresh_kfp_server, "GET", "/_admin/info")
    assert status == 200
    assert info["target"] == TARGET_NAME
    assert info["version"] == SERVER_VERSION
    assert info["name"] == "embedded KFP simulator"

    get_json(fresh_kfp_server, "POST", "/apis/v2beta1/experiments", {"display_name": "counted"})
    get_json(fresh_kfp_server, "GET", "/apis/v2beta1/runs/missing")
    _, stats = get_json(fresh_kfp_server, "GET", "/_admin/stats")
    assert stats["target"] == TARGET_NAME
    assert stats["by_route"]["POST /apis/v2beta1/experiments"] == {"200": 1}
    assert stats["by_route"]["GET /apis/v2beta1/runs/{run_id}"] == {"404": 1}
    assert stats["objects"]["experiments"] == 2
    assert fresh_kfp_server.stats()["by_route"]["GET /apis/v2beta1/runs/{run_id}"] == {"404": 1}

    assert get_json(fresh_kfp_server, "POST", "/_admin/reset")[1] == {}
    stats_after = fresh_kfp_server.stats()
    assert stats_after["objects"]["experiments"] == 1
    assert "POST /apis/v2beta1/experiments" not in stats_after["by_route"]
    fresh_kfp_server.reset(data=False)
    assert fresh_kfp_server.stats()["objects"]["experiments"] == 1


def test_every_answer_names_the_simulator(fresh_kfp_server: EmbeddedKfpServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", fresh_kfp_server.port, timeout=10)
    for path in ("/apis/v2beta1/healthz", "/apis/v2beta1/runs/nope", "/nowhere", "/_admin/info"):
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        assert response.getheader(TARGET_HEADER) == TARGET_NAME, path
        assert response.getheader("Content-Type", "").startswith("application/json")
    conn.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_keep_alive_calls_do_not_stall(fresh_kfp_server: EmbeddedKfpServer, method: str) -> None:
    """Consecutive calls on one connection take well under a millisecond; a Nagle / delayed-ACK stall
    would add about 40 ms to each."""
    conn = http.client.HTTPConnection("127.0.0.1", fresh_kfp_server.port, timeout=10)
    samples = []
    for i in range(200):
        body = json.dumps({"display_name": f"keepalive-{i}"}) if method == "POST" else None
        path = "/apis/v2beta1/experiments" if method == "POST" else "/apis/v2beta1/healthz"
        start = time.perf_counter()
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        samples.append(time.perf_counter() - start)
        assert response.status == 200
        assert not response.will_close
    conn.close()
    median_ms = statistics.median(samples) * 1000
    # Typically well under 1 ms; the bound is loose because the machine is shared, yet far below the
    # 40 ms that every call would take with the stall.
    assert median_ms < 15, f"median {median_ms:.2f} ms per keep-alive call"


def test_standalone_command_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "perf_tests.server", "--port", "0", "--seed", "3", "--set", "latency_ms=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = ""
        deadline = time.monotonic() + 30
        while not url and time.monotonic() < deadline:
            line = process.stdout.readline()
            if "serving the KFP v2beta1 API at" in line:
                url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        client = kfp.Client(host=url)
        assert client.get_kfp_healthz().multi_user is False
        client._run_api.api_client.rest_client.pool_manager.clear()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "stopped" in output
    assert "Traceback" not in output


def test_standalone_command_rejects_bad_settings() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "perf_tests.server", "--set", "error_probability=3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "error_probability" in result.stderr


def test_process_isolation_serves_the_same_api(tmp_path: Path) -> None:
    server = EmbeddedKfpServer(isolation="process", db_path=tmp_path / "child.db", task_seconds=0.01)
    with server:
        assert server.running
        assert "process" in repr(server)
        client = kfp.Client(host=server.url)
        experiment = client.create_experiment("in-a-child")
        assert server.configure(error_probability=1.0).error_probability == 1.0
        with pytest.raises(kfp_server_api.ApiException) as caught:
            client.get_experiment(experiment_id=experiment.experiment_id)
        assert caught.value.status == 500
        stats = server.stats()
        assert stats["faults"]["error"] == 1
        assert stats["objects"]["experiments"] == 2
        with pytest.raises(RuntimeError, match="isolation='thread'"):
            server.call(lambda app: app.stats_snapshot())

        port = server.port
        server.restart()
        assert server.port == port
        assert server.config.error_probability == 1.0  # the configuration survives the restart
        server.configure(error_probability=0.0)
        assert client.get_experiment(experiment_name="in-a-child").experiment_id == experiment.experiment_id
        client._run_api.api_client.rest_client.pool_manager.clear()
        process = server._child.process if server._child else None
    assert not server.running
    assert process is not None
    assert process.returncode == 0


def test_process_isolation_reports_a_failed_start(tmp_path: Path) -> None:
    blocker = EmbeddedKfpServer()
    with blocker:
        server = EmbeddedKfpServer(isolation="process", port=blocker.port, host="127.0.0.1")
        with pytest.raises(RuntimeError, match="did not start"):
            server.start()
        assert not server.running


def test_admin_stats_give_each_route_its_service_time(fresh_kfp_server: EmbeddedKfpServer) -> None:
    fresh_kfp_server.configure(latency_ms=30)
    for _ in range(3):
        assert get_json(fresh_kfp_server, "GET", "/apis/v2beta1/experiments")[0] == 200
    get_json(fresh_kfp_server, "GET", "/apis/v2beta1/runs/nope")  # a 404: counted, not timed
    service = fresh_kfp_server.stats()["service_ms"]
    listed = service["GET /apis/v2beta1/experiments"]
    assert listed["count"] == 3
    assert 30 <= listed["p50"] < 200 and listed["p50"] <= listed["p99"] <= listed["max"]  # the added latency
    assert "GET /apis/v2beta1/runs/{run_id}" not in service
    fresh_kfp_server.reset(data=False)
    assert fresh_kfp_server.stats()["service_ms"] == {}
