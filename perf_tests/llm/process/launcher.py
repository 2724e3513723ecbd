"""``python -m perf_tests.llm.process.launcher <guidellm arguments>``: GuideLLM's own CLI, started early and held.

GuideLLM needs 10-20 s to start (imports, worker processes, data preparation) before its first request,
so an executor launches it ahead of its load window. Launched with ``PERF_TESTS_READY_FD`` set (see
``perf_tests.llm.process.startup``), ``guidellm run`` does all of that, says ``ready`` through that pipe, reads
its window (``window <start> <end>``, epoch seconds) from its standard input and holds its scheduler's
start until the window opens, so the first request is due exactly at the planned start; a constraint
ends every benchmark when the window closes, even after a late start (which is reported, not
stretched). Both act on ``NonDistributedEnvironment``, the seam GuideLLM provides for coordinating when
a run starts. Lines starting with ``perf-tests:`` report the hold.

Every ``run`` also gets the changes of ``perf_tests.llm.process.patches``: the workaround for GuideLLM 0.8's
end-of-data hang, errors that carry the server's message (also in GuideLLM's spawned workers, which
import this module as ``__mp_main__``), and, with ``PERF_TESTS_REQUESTS_FILE`` set, each finished request
appended to that file. Everything else is GuideLLM unchanged.

With ``PERF_TESTS_SECRETS`` set, GuideLLM's output passes ``perf_tests.llm.process.masking`` before it reaches
the log: the entry's secrets are masked. With ``PERF_TESTS_BACKEND_SECRETS`` set, its secret ``--backend``
keys (an API key, header values) are merged into the arguments in memory
(``perf_tests.llm.process.backend_secrets``): no secret is on any command line.

The launcher also ends its process group when the test run that started it dies (it watches its parent's
pidfd), so a killed run leaves no GuideLLM behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from perf_tests.llm.process.backend_secrets import merge_backend_secrets
from perf_tests.llm.process.masking import drain_output, mask_secrets, secrets_from_env
from perf_tests.llm.process.patches import (
    install_end_of_data_fix,
    install_error_bodies,
    install_poisson_start_fix,
    install_request_log,
)
from perf_tests.llm.process.startup import (
    MARK,
    NO_LOAD_EXIT,
    PARENT_PID_ENV,
    READY_FD_ENV,
    REQUESTS_ENV,
    parse_window_line,
)

__all__ = ["install_schedule", "main"]

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
    drain_output(1.0)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run GuideLLM's CLI with ``argv`` (default: this process's arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    mask_secrets(secrets_from_env())
    signal.signal(signal.SIGTERM, _end_group)
    _watch_parent()
    if args[:1] == ["run"]:
        args = merge_backend_secrets(args)
        install_end_of_data_fix()
        install_error_bodies()
        install_poisson_start_fix()
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
        drain_output()
    return 0


if __name__ == "__main__":
    sys.exit(main())
elif __name__ == "__mp_main__":  # a spawned GuideLLM worker: its HTTP client keeps error answers (see above)
    install_error_bodies()
