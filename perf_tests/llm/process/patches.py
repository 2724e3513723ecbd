"""What the launcher changes in GuideLLM 0.8, in the process that runs it (and its spawned workers).

Each ``install_*`` patches one GuideLLM (or httpx) method in this process only, once; importing this
module changes nothing (GuideLLM's spawned workers import the launcher, and so this module):

- ``install_end_of_data_fix``: a benchmark whose data file ended after its last request hung forever;
- ``install_error_bodies``: a failed request's error names the HTTP status and the server's message;
- ``install_poisson_start_fix``: a Poisson entry's requests could all be due at the Unix epoch (sent at once);
- ``install_request_log``: each finished request is appended to a file at once (``perf_tests.llm.results.live``).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

__all__ = [
    "ERROR_MESSAGE_LIMIT",
    "install_end_of_data_fix",
    "install_error_bodies",
    "install_poisson_start_fix",
    "install_request_log",
    "server_message",
]


def install_end_of_data_fix() -> None:
    """Work around a GuideLLM 0.8 hang: a benchmark whose data ends after its last request never ends.

    GuideLLM's coordinator (``WorkerGroupState`` in ``guidellm/scheduler/worker_group.py``,
    https://github.com/vllm-project/guidellm/blob/main/src/guidellm/scheduler/worker_group.py) decides
    that all requests were generated (``requests_generated_event``) and that the benchmark is over
    (``shutdown_event``) only in ``received_callback``, i.e. when a request update arrives. With a finite
    data file (JSONL, CSV, ...) the generator learns that the data ended only on its next ``next()``, which
    for GuideLLM's torch ``DataLoader`` means joining its loader process: often slower than the last one or
    two requests. If their final updates arrive first, no update follows, the two events are never set,
    and the worker processes and the coordinator wait for each other forever: no more requests, no
    report, not even at ``max_duration`` (its constraint stops processing but sets neither event). Under
    CPU contention this hit about one run in three of a concurrent entry over ``prompts.jsonl``.

    The fix: the coordinator's idle poll (``update_state()`` with no request, called by
    ``WorkerProcessGroup.request_updates`` every ``mp_poll_interval`` while no update arrives) applies the
    same end conditions as ``received_callback``. It changes nothing while updates flow.

    Upstream: no GuideLLM issue or pull request reports this hang (GuideLLM's issue tracker searched in
    December 2026). Related hangs, not this one: https://github.com/vllm-project/guidellm/issues/431 and
    https://github.com/vllm-project/guidellm/issues/1152 (stalls between the rates of a constant profile),
    https://github.com/vllm-project/guidellm/pull/709 (a deadlock in ``worker_group.py`` when the data
    yields no request at all, fixed by aborting). Drop this patch once a GuideLLM release sets the two
    events when the data ends.
    """
    from guidellm.scheduler.worker_group import WorkerGroupState

    original = WorkerGroupState.update_state
    if getattr(original, "_perf_tests_end_of_data_fix", False):
        return

    def update_state(self: Any, info: Any = None, add_constraints: Any = None, generation_delay: Any = None) -> Any:
        update = original(self, info=info, add_constraints=add_constraints, generation_delay=generation_delay)
        if info is None and add_constraints is None and generation_delay is None:  # the idle poll
            state = update.state
            if state.queued_requests == 0 and self.stop_send_requests_event.is_set():
                self.requests_generated_event.set()
            if update.stop_processing:
                self.constraint_reached_event.set()
            if (state.processed_requests == state.created_requests
                    and self.stop_send_requests_event.is_set()
                    and self.requests_generated_event.is_set()
                    and self.constraint_reached_event.is_set()):
                self.shutdown_event.set()
        return update

    update_state._perf_tests_end_of_data_fix = True  # type: ignore[attr-defined]
    setattr(WorkerGroupState, "update_state", update_state)  # noqa: B010 - patching a method


def install_poisson_start_fix() -> None:
    """Work around a GuideLLM 0.8 race: a Poisson benchmark's arrival times counted from -1 s, not its start.

    ``AsyncPoissonStrategy.init_processes_start`` (``guidellm/scheduler/strategies.py``) first calls the base
    class, which stores the start time and sets the event the workers wait on, and only then sets the shared
    offset its arrival times accumulate on (``-1.0`` until then). A worker woken in between draws its
    arrivals from ``-1.0 + gaps``: every request is due ~1.8e9 s ago, so all go out as fast as the server
    answers (seen: 68 requests at 8.4 req/s for an entry of 2 req/s, "root dispatch delay 1796245911 s").
    The fix sets the offset first.
    """
    from guidellm.scheduler.strategies import AsyncPoissonStrategy, ThroughputStrategy

    original = AsyncPoissonStrategy.init_processes_start
    if getattr(original, "_perf_tests_poisson_start_fix", False):
        return

    def init_processes_start(self: Any, start_time: float) -> None:
        offset = self._offset
        if offset is None:
            original(self, start_time)  # GuideLLM's own error
            return
        with offset.get_lock():
            offset.value = start_time
        ThroughputStrategy.init_processes_start(self, start_time)

    init_processes_start._perf_tests_poisson_start_fix = True  # type: ignore[attr-defined]
    setattr(AsyncPoissonStrategy, "init_processes_start", init_processes_start)  # noqa: B010 - patching a method


ERROR_MESSAGE_LIMIT = 300
"""Characters of a server's error answer kept in a failed request's error."""


def server_message(body: str) -> str:
    """The message of an error answer: OpenAI's ``error.message``, vLLM's ``message``, FastAPI's ``detail``,
    or the text itself; on one line, at most ``ERROR_MESSAGE_LIMIT`` characters."""
    message: Any = body
    with contextlib.suppress(ValueError):
        data = json.loads(body)
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict):
                error = error.get("message")
            message = data.get("message") or error or data.get("detail") or body
    text = " ".join(str(message).split())
    return text if len(text) <= ERROR_MESSAGE_LIMIT else text[:ERROR_MESSAGE_LIMIT - 3] + "..."


async def _raise_with_body(response: Any) -> None:
    """An httpx response hook: an error answer raises ``HTTPStatusError`` naming its status and message."""
    if response.status_code < 400:
        return
    import httpx

    await response.aread()
    message = server_message(response.text) or "(empty answer)"
    raise httpx.HTTPStatusError(
        f"HTTP {response.status_code} {response.reason_phrase} from {response.request.url.path}: {message}",
        request=response.request, response=response,
    )


def install_error_bodies() -> None:
    """Every ``httpx.AsyncClient`` of this process (GuideLLM's backend) raises with the server's message.

    GuideLLM calls ``raise_for_status()`` on every answer it gets, so raising from the response hook
    instead changes only the message (httpx closes the response as it does for its own error).
    """
    import httpx

    original = httpx.AsyncClient.__init__
    if getattr(original, "_perf_tests_error_bodies", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.event_hooks["response"].append(_raise_with_body)

    __init__._perf_tests_error_bodies = True  # type: ignore[attr-defined]
    setattr(httpx.AsyncClient, "__init__", __init__)  # noqa: B010 - patching a method


_FINAL = {"completed": "successful", "errored": "errored", "cancelled": "incomplete"}


def install_request_log(path: str) -> None:
    """Append each finished request to ``path`` (JSON lines) as GuideLLM's scheduler reports it.

    GuideLLM writes its report only at the end, so a stopped or killed run had nothing; this file keeps
    every request that finished until then. Each line is one ``os.write`` on an ``O_APPEND`` file: a
    reader sees whole lines, and what was written survives a SIGKILL. The fields are the timings
    GuideLLM's report gives each request (epoch seconds); a cancelled request that never started is
    left out, as GuideLLM's report leaves it out.
    """
    from guidellm.scheduler.environments import NonDistributedEnvironment

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    original = NonDistributedEnvironment.update_run_iteration

    async def update_run_iteration(self: Any, response: Any, request: Any, info: Any, state: Any) -> Any:
        result = await original(self, response, request, info, state)
        status = _FINAL.get(str(info.status))
        timings = info.timings
        start = timings.request_start if timings.request_start is not None else timings.resolve_start
        if status is not None and not (status == "incomplete" and start is None):
            end = timings.request_end if timings.request_end is not None else timings.resolve_end
            line = {"status": status, "targeted_start": timings.targeted_start, "start": start, "end": end,
                    "latency": (timings.request_end - timings.request_start)
                    if timings.request_end is not None and timings.request_start is not None else None,
                    "first_token": timings.first_token_iteration, "error": info.error or None}
            with contextlib.suppress(OSError):
                os.write(fd, (json.dumps(line) + "\n").encode())
        return result

    setattr(NonDistributedEnvironment, "update_run_iteration", update_run_iteration)  # noqa: B010
