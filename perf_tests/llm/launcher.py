"""``python -m perf_tests.llm.launcher <guidellm arguments>``: GuideLLM's own CLI, started early and held.

GuideLLM needs 10-20 s to start (imports, worker processes, data preparation) before its first request,
so an executor launches it ahead of its load window. Launched with ``PERF_TESTS_READY_FD`` set (see
``perf_tests.llm.startup``), ``guidellm run`` does all of that, says ``ready`` through that pipe, reads
its window (``window <start> <end>``, epoch seconds) from its standard input and holds its scheduler's
start until the window opens, so the first request is due exactly at the planned start; a constraint
ends every benchmark when the window closes, even after a late start (which is reported, not
stretched). Both act on ``NonDistributedEnvironment``, the seam GuideLLM provides for coordinating when
a run starts. Lines starting with ``perf-tests:`` report the hold.

One GuideLLM 0.8 bug is worked around in every ``run``: a benchmark whose data file ends after its last
request completed hung forever (``install_end_of_data_fix``). And GuideLLM records a failed request as
httpx's ``Client error '400 Bad Request' for url ...``, without the server's answer: its HTTP clients (in
this process and in its spawned workers, which import this module as ``__mp_main__``) read an error
answer's body and raise with it (``install_error_bodies``), so the report says what the server said.
Everything else is GuideLLM unchanged.

With ``PERF_TESTS_SECRETS`` set (a JSON list: the entry's API key and header values), the launcher
passes GuideLLM's output through a filter that masks them, line by line, before it reaches the log:
GuideLLM prints its backend settings, request headers included, when it starts.

The launcher also ends its process group when the test run that started it dies (it watches its parent's
pidfd), so a killed run leaves no GuideLLM behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from perf_tests.llm.startup import (
    MARK,
    NO_LOAD_EXIT,
    PARENT_PID_ENV,
    READY_FD_ENV,
    REQUESTS_ENV,
    parse_window_line,
)

__all__ = [
    "install_end_of_data_fix",
    "install_error_bodies",
    "install_request_log",
    "install_schedule",
    "main",
    "mask_secrets",
    "server_message",
]

DEADLINE_CONSTRAINT = "perf_tests_deadline"


def _say(message: str) -> None:
    print(f"{MARK} {message}", file=sys.stderr, flush=True)


def _end_group(signum: int, frame: Any) -> None:
    """On SIGTERM, end the whole group (GuideLLM's spawned workers ignore their parent's death)."""
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(128 + signum)


def _watch_parent() -> None:
    """End the whole process group when the test run that started us dies (even by SIGKILL).

    A pidfd of the parent becomes readable when it exits; without pidfd support, the parent is polled.
    (The kernel's parent-death signal is no use here: it fires when the *thread* that started us ends.)
    """
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return
    parent_pid = int(parent)
    if os.getppid() != parent_pid:  # it died before we got here
        os._exit(1)
    try:
        pidfd: int | None = os.pidfd_open(parent_pid)
    except (AttributeError, OSError):
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while os.getppid() == parent_pid:
                time.sleep(1.0)  # no pidfd: poll
        _say("the test run that started this process is gone; ending it")
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="perf-tests-parent-watch", daemon=True).start()


class _Window:
    """The load window, once the executor sent it."""

    start_at: float | None = None
    end_at: float | None = None


class _Deadline:
    """A GuideLLM constraint: stop queuing and processing when the window closes, for every remaining
    benchmark too (``stopping_scope="all"``)."""

    def __call__(self, state: Any, request_info: Any) -> Any:
        from guidellm.scheduler.schemas import SchedulerProgress, SchedulerUpdateAction

        now = time.time()
        end_at = _Window.end_at if _Window.end_at is not None else float("inf")
        done = now >= end_at
        return SchedulerUpdateAction(
            request_queuing="stop" if done else "continue",
            request_processing="stop_local" if done else "continue",
            stopping_scope="all",
            metadata={"deadline": _Window.end_at, "current_time": now, "deadline_reached": done},
            progress=SchedulerProgress(
                remaining_duration=max(0.0, end_at - now) if _Window.end_at is not None else None,
                stop_time=end_at if done else None,
            ),
        )


def _no_load(message: str) -> NoReturn:
    """Exit without load; the executor then ends the rest of the process group (GuideLLM's workers)."""
    _say(f"error: {message}; no load was sent")
    _drain_output(1.0)
    os._exit(NO_LOAD_EXIT)


def _announce_ready(ready: float) -> None:
    fd = os.environ.get(READY_FD_ENV)
    if fd is None:
        return
    with contextlib.suppress(OSError, ValueError):
        os.write(int(fd), f"ready {ready:.6f}\n".encode("ascii"))
        os.close(int(fd))


async def _receive_window() -> tuple[float, float] | None:
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)  # blocking read off the event loop
    return parse_window_line(line)


def install_schedule() -> None:
    """Hold GuideLLM's scheduler start until the window the executor sends opens; end at its close."""
    from guidellm.scheduler.environments import NonDistributedEnvironment

    original_start = NonDistributedEnvironment.sync_run_start
    original_params = NonDistributedEnvironment.sync_run_params
    first = [True]

    async def sync_run_params(self: Any, requests: Any, strategy: Any, constraints: Any) -> Any:
        requests, strategy, constraints = await original_params(self, requests, strategy, constraints)
        return requests, strategy, {**constraints, DEADLINE_CONSTRAINT: _Deadline()}

    async def sync_run_start(self: Any) -> float:
        start: float = await original_start(self)
        if not first[0]:
            return start
        first[0] = False
        ready = time.time()
        _announce_ready(ready)
        window = await _receive_window()
        if window is None:
            _no_load("the test run ended or was stopped before this GuideLLM run's start")
        _Window.start_at, _Window.end_at = window
        now = time.time()
        start_at, end_at = window
        if now >= end_at:
            _no_load(f"GuideLLM was ready at {ready:.3f}, after the end of its load window ({end_at:.3f}); "
                     "launch it earlier (a larger startupLead or a later startTime)")
        if now <= start_at:
            _say(f"ready at {ready:.3f}; holding until {start_at:.3f} ({start_at - ready:.1f}s early)")
            return start_at
        _say(f"ready at {ready:.3f}; starting at {now:.3f}, {now - start_at:.3f}s late")
        return now

    setattr(NonDistributedEnvironment, "sync_run_params", sync_run_params)  # noqa: B010 - patching a method
    setattr(NonDistributedEnvironment, "sync_run_start", sync_run_start)  # noqa: B010


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


_SECRETS_ENV = "PERF_TESTS_SECRETS"  # perf_tests.llm.command.SECRETS_ENV (not imported: no side effects here)
_MASK = b"***"


def mask_secrets(secrets: Sequence[str]) -> threading.Thread | None:
    """Route this process's standard output and error (fds 1 and 2, inherited by GuideLLM's workers)
    through a thread that masks ``secrets`` in each line; the thread, or None when there is nothing to mask."""
    needles = sorted({secret.encode() for secret in secrets if secret}, key=len, reverse=True)
    if not needles:
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    target = os.dup(1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy() -> None:
        with os.fdopen(read_end, "rb") as source:
            for line in source:  # a secret never spans lines: GuideLLM's progress bars are off
                for needle in needles:
                    line = line.replace(needle, _MASK)
                os.write(target, line)

    thread = threading.Thread(target=copy, name="perf-tests-mask-secrets", daemon=True)
    thread.start()
    _masking.append(thread)
    return thread


_masking: list[threading.Thread] = []


def _drain_output(timeout: float = 5.0) -> None:
    """Before exiting: let the masking thread write what is left (it ends when nothing holds the pipe)."""
    if not _masking:
        return
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    for thread in _masking:
        thread.join(timeout)


def _secrets_from_env() -> list[str]:
    raw = os.environ.pop(_SECRETS_ENV, "")  # GuideLLM and its workers never see the list
    try:
        values = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [value for value in values if isinstance(value, str)] if isinstance(values, list) else []


def main(argv: Sequence[str] | None = None) -> int:
    """Run GuideLLM's CLI with ``argv`` (default: this process's arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    mask_secrets(_secrets_from_env())
    signal.signal(signal.SIGTERM, _end_group)
    _watch_parent()
    if args[:1] == ["run"]:
        install_end_of_data_fix()
        install_error_bodies()
        if os.environ.get(REQUESTS_ENV):
            install_request_log(os.environ[REQUESTS_ENV])
        if os.environ.get(READY_FD_ENV):
            install_schedule()
    from guidellm.cli import cli

    try:
        cli.main(args=args, prog_name="guidellm")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        _drain_output()
    return 0


if __name__ == "__main__":
    sys.exit(main())
elif __name__ == "__mp_main__":  # a spawned GuideLLM worker: its HTTP client keeps error answers (see above)
    install_error_bodies()
