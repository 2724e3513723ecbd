"""A local stack's fixed ports: one already listened on is refused before anything starts, naming the port and
how to choose another; a listening socket is told apart by the process group holding it. Real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_tests.errors import ConfigurationError
from perf_tests.llm.local_stack import run_local_stack
from perf_tests.stack.ports import listener_in_group, port_in_use


@pytest.fixture
def listener() -> Iterator[int]:
    """The port of a socket listening on 127.0.0.1 (a foreign server, as far as the stack knows)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_listened_port_is_in_use_and_a_closed_one_is_not(listener: int) -> None:
    assert port_in_use("127.0.0.1", listener)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = int(sock.getsockname()[1])
    assert not port_in_use("127.0.0.1", closed)


def test_a_port_of_a_connection_in_time_wait_is_free() -> None:
    """A server we stopped a moment ago leaves connections in TIME_WAIT: no reason to refuse its port (which
    that server, like vLLM's uvicorn, bound with SO_REUSEADDR, as it will again)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = int(server.getsockname()[1])
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.close()
    server.close()
    assert not port_in_use("127.0.0.1", port)


def test_the_listener_is_found_in_its_own_process_group_only(listener: int) -> None:
    assert listener_in_group(listener, os.getpgrp()) is True
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert listener_in_group(listener, other.pid) is False  # a group that holds no such socket
    finally:
        other.kill()
        other.wait()


def test_local_stack_refuses_a_taken_vllm_port_before_starting_anything(listener: int, tmp_path: Path) -> None:
    python = tmp_path / ".venv-vllm" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 99\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        run_local_stack(["true"], tmp_path / "stack", vllm_port=listener, repo=tmp_path)
    message = str(info.value)
    assert f"127.0.0.1:{listener}" in message and "already in use" in message
    assert "--vllm-port" in message and f"sport = :{listener}" in message
    assert not (tmp_path / ".cache").exists(), "nothing was built or started"


def test_local_stack_refuses_a_taken_prometheus_port(listener: int, tmp_path: Path) -> None:
    python = tmp_path / ".venv-vllm" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 99\n", encoding="utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = int(sock.getsockname()[1])
    with pytest.raises(ConfigurationError, match=f"Prometheus on 127.0.0.1:{listener}.*--prometheus-port"):
        run_local_stack(["true"], tmp_path / "stack", vllm_port=free, prometheus_port=listener, repo=tmp_path)
