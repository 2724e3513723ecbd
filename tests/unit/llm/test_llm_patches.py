"""The launcher's changes to GuideLLM 0.8 (``perf_tests.llm.process.patches``) and its output masking.

For the end-of-data hang, GuideLLM's own ``WorkerGroupState`` is driven through the order of events that
hung a concurrent entry over a JSONL file about one CI run in three: the data source reports its end only
after the last request's final update arrived. Its transport (worker processes and queues) is left out:
the order is set here.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest

pytest.importorskip("guidellm")

import culsans
from guidellm.scheduler.schemas import ConversationGraph, ConversationNode
from guidellm.scheduler.strategies import ConcurrentStrategy
from guidellm.scheduler.worker_group import WorkerGroupState

from perf_tests.llm.process.patches import install_end_of_data_fix, server_message


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workaround installed for one test (the class is restored afterwards)."""
    monkeypatch.setattr(WorkerGroupState, "update_state", WorkerGroupState.update_state)
    install_end_of_data_fix()


def coordinator() -> Any:
    # threading.Events and a bare holder of the receive queue where GuideLLM passes multiprocessing's Events and
    # its InterProcessMessaging: the coordinator's state runs in this process, without worker processes.
    return WorkerGroupState(
        start_time=time.time(), processes=[], strategy=ConcurrentStrategy(streams=2), constraints={},
        stop_send_requests_event=threading.Event(), send_requests_stopped_event=threading.Event(),
        requests_generated_event=threading.Event(), constraint_reached_event=threading.Event(),  # type: ignore[arg-type]
        shutdown_event=threading.Event(), error_event=threading.Event(),  # type: ignore[arg-type]
        messaging=SimpleNamespace(buffer_receive_queue=culsans.Queue()),  # type: ignore[arg-type]
    )


def data(count: int) -> Iterator[ConversationGraph[Any]]:
    for index in range(count):
        node = ConversationNode[Any](node_id=f"n{index}", agent_id="a", request=f"prompt {index}")
        yield ConversationGraph[Any](graph_id=f"g{index}", nodes={node.node_id: node})


FinalStatus = Literal["completed", "errored", "cancelled"]


def run_request(state: Any, graph: ConversationGraph[Any], final: FinalStatus = "completed") -> None:
    """What a worker sends for one request: pending, in progress, then its final update."""
    (info,) = graph.request_infos.values()
    statuses: tuple[Literal["pending", "in_progress"] | FinalStatus, ...] = ("pending", "in_progress", final)
    for status in statuses:
        update = info.model_copy()
        update.status = status
        state.received_callback((None, "prompt", update))


def idle_poll(state: Any) -> None:
    """What ``WorkerProcessGroup.request_updates`` does every ``mp_poll_interval`` while nothing arrives."""
    update = state.update_state()
    if update.stop_processing:
        state.constraint_reached_event.set()
    if update.stop_queueing:
        state.stop_send_requests_event.set()


def last_updates_before_the_end_of_data(state: Any) -> None:
    """Both requests finish before the data source says it has no third (the slow ``next()``)."""
    requests = state.requests_generator(data(2))
    graphs = [next(requests), next(requests)]
    for graph in graphs:
        run_request(state, graph)
    assert not state.stop_send_requests_event.is_set()  # the coordinator does not know yet
    with pytest.raises(StopIteration):
        next(requests)  # now it does: no request update follows
    assert state.stop_send_requests_event.is_set()


def test_guidellm_without_the_fix_never_ends_such_a_benchmark() -> None:
    """GuideLLM's own behaviour (if this fails, GuideLLM fixed it: drop ``install_end_of_data_fix``)."""
    state = coordinator()
    last_updates_before_the_end_of_data(state)
    for _ in range(3):
        idle_poll(state)
    assert state.constraint_reached_event.is_set()  # processing stops
    assert not state.requests_generated_event.is_set() and not state.shutdown_event.is_set()  # the hang


@pytest.mark.usefixtures("fixed")
def test_the_idle_poll_ends_a_benchmark_whose_data_ended_after_its_last_request() -> None:
    state = coordinator()
    last_updates_before_the_end_of_data(state)
    idle_poll(state)
    assert state.requests_generated_event.is_set()
    assert state.constraint_reached_event.is_set()
    assert state.shutdown_event.is_set()


@pytest.mark.usefixtures("fixed")
def test_the_idle_poll_does_not_end_a_benchmark_with_a_request_in_flight() -> None:
    state = coordinator()
    requests = state.requests_generator(data(2))
    first, second = next(requests), next(requests)
    run_request(state, first)
    with pytest.raises(StopIteration):
        next(requests)
    idle_poll(state)
    assert not state.shutdown_event.is_set()  # the second request is still queued
    assert not state.requests_generated_event.is_set()
    run_request(state, second, final="errored")  # its final update ends the benchmark, as without the fix
    assert state.shutdown_event.is_set()


@pytest.mark.usefixtures("fixed")
def test_installing_twice_wraps_once() -> None:
    patched = WorkerGroupState.update_state
    install_end_of_data_fix()
    assert WorkerGroupState.update_state is patched


def test_guidellm_output_is_masked_at_the_file_descriptor(tmp_path: Path) -> None:
    """What the launcher's process and its children (GuideLLM's workers) print passes the mask."""
    script = (
        "import os, subprocess, sys\n"
        "from perf_tests.llm.process import masking\n"
        "masking.mask_secrets(['sk-SECRET-1', 'hdr-SECRET-2'])\n"
        "print('backend api_key=sk-SECRET-1 headers={\"X\": \"hdr-SECRET-2\"}')\n"
        "print('to stderr sk-SECRET-1', file=sys.stderr)\n"
        "sys.stdout.flush(); sys.stderr.flush()\n"
        "subprocess.run(['sh', '-c', 'echo worker hdr-SECRET-2'])\n"
        "os.write(2, b'last line without a newline sk-SECRET-1')\n"
        "masking.drain_output()\n"
    )
    log = tmp_path / "guidellm.log"
    with log.open("wb") as handle:
        subprocess.run([sys.executable, "-c", script], stdout=handle, stderr=subprocess.STDOUT, check=True,
                       timeout=60)
    text = log.read_text(encoding="utf-8")
    assert "SECRET" not in text
    assert "backend api_key=*** headers={\"X\": \"***\"}" in text
    assert "worker ***" in text and "to stderr ***" in text and "last line without a newline ***" in text


@pytest.mark.parametrize(("body", "message"), [
    ('{"object": "error", "message": "default chat template is no longer allowed", "code": 400}',
     "default chat template is no longer allowed"),  # vLLM
    ('{"error": {"message": "Invalid API key", "type": "invalid_request_error"}}', "Invalid API key"),  # OpenAI
    ('{"detail": "Not Found"}', "Not Found"),  # FastAPI
    ("upstream\n  connect error", "upstream connect error"),
    ("x" * 1000, "x" * 297 + "..."),
])
def test_the_servers_message_is_taken_from_its_error_answer(body: str, message: str) -> None:
    assert server_message(body) == message


class _SeenAtStart:
    """Stands in for the start event the workers wait on: records the Poisson offset when it is set."""

    def __init__(self, strategy: Any) -> None:
        self.strategy, self.offset_seen = strategy, None

    def set(self) -> None:
        self.offset_seen = self.strategy._offset.value


def _poisson_offset_when_workers_wake() -> float | None:
    import multiprocessing

    from guidellm.scheduler.strategies import AsyncPoissonStrategy

    strategy = AsyncPoissonStrategy(rate=2.0)
    strategy.init_processes_timings(1, 1, multiprocessing.get_context("spawn"))
    seen = _SeenAtStart(strategy)
    strategy._processes_init_event = seen  # type: ignore[assignment]  # records instead of waking workers
    strategy.init_processes_start(1_796_000_000.0)
    return seen.offset_seen


def test_guidellm_wakes_poisson_workers_before_their_offset_is_set() -> None:
    """GuideLLM's own behaviour (if this fails, GuideLLM fixed it: drop ``install_poisson_start_fix``)."""
    assert _poisson_offset_when_workers_wake() == -1.0


def test_poisson_workers_wake_to_the_benchmark_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from guidellm.scheduler.strategies import AsyncPoissonStrategy

    from perf_tests.llm.process.patches import install_poisson_start_fix

    monkeypatch.setattr(AsyncPoissonStrategy, "init_processes_start", AsyncPoissonStrategy.init_processes_start)
    install_poisson_start_fix()
    install_poisson_start_fix()  # once
    assert _poisson_offset_when_workers_wake() == 1_796_000_000.0
