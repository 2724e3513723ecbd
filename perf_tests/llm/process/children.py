"""Child processes that never outlive the test run: GuideLLM runs and mock servers.

Each child starts in its own session (process group), so stopping it stops everything it spawned
(GuideLLM's worker processes): SIGTERM to the group, then SIGKILL after a grace period. Children still
running when the interpreter exits are killed by an ``atexit`` hook; if this process dies without
running it (SIGKILL), ``perf_tests.llm.process.launcher`` inside the child sees its parent die and ends
its group. The child runs as ``python -m perf_tests.llm.process.launcher <guidellm arguments>`` with its
output in a log file.

A *controlled* child (``control=True``) is a GuideLLM run held at its start: it says when it is ready
through a pipe (``ready``) and waits for its load window on its standard input (``send_window``); see
``perf_tests.llm.process.startup`` for the protocol.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from perf_tests.llm.process.startup import PARENT_PID_ENV, READY_FD_ENV, window_line

__all__ = ["LAUNCHER", "ChildProcess", "kill_all_children", "launcher_argv", "live_children", "log_tail"]

logger = logging.getLogger(__name__)

LAUNCHER = "perf_tests.llm.process.launcher"

_live: set[ChildProcess] = set()
_live_lock = threading.Lock()


def launcher_argv(args: Sequence[str]) -> list[str]:
    """``python -m perf_tests.llm.process.launcher <args>`` with this interpreter (GuideLLM's CLI, guarded)."""
    return [sys.executable, "-m", LAUNCHER, *args]


def log_tail(path: Path, max_bytes: int = 16384) -> str:
    """The last ``max_bytes`` of a log file ('' when missing)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


class ChildProcess:
    """One child process in its own process group, output appended to ``log_path``."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, control: bool = False) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env or {})
        self.cwd = cwd
        self.control = control
        self.ready = threading.Event()  # set when the child said it is ready, or when it went away first
        self.ready_at: float | None = None  # the child's clock when it was ready
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the process (once)."""
        with self._lock:
            if self._popen is not None:
                raise RuntimeError(f"{self.name} was already started")
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
            env = {**os.environ, **self.env, PARENT_PID_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"}
            ready_read, ready_write = os.pipe() if self.control else (-1, -1)
            if self.control:
                env[READY_FD_ENV] = str(ready_write)
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.PIPE if self.control else subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.cwd,
                    start_new_session=True,  # own process group: stop it with everything it spawned
                    close_fds=True,
                    pass_fds=(ready_write,) if self.control else (),
                )
            except OSError:
                self._log.close()
                self._log = None
                if self.control:
                    os.close(ready_read)
                    os.close(ready_write)
                raise
            if self.control:
                os.close(ready_write)
                threading.Thread(target=self._read_ready, args=(ready_read,), name=f"{self.name}-ready",
                                 daemon=True).start()
        with _live_lock:
            _live.add(self)
        logger.debug("started %s (pid %d): %s", self.name, self._popen.pid, " ".join(self.argv))

    def _read_ready(self, fd: int) -> None:
        """Wait for the child's ``ready <epoch>`` line (or the pipe's end when it exits first)."""
        try:
            data = b""
            while not data.endswith(b"\n"):
                chunk = os.read(fd, 256)
                if not chunk:
                    break
                data += chunk
            words = data.decode("ascii", "replace").split()
            if len(words) == 2 and words[0] == "ready":
                with contextlib.suppress(ValueError):
                    self.ready_at = float(words[1])
        except OSError:
            pass
        finally:
            os.close(fd)
            self.ready.set()

    def send_window(self, start_at: float, end_at: float) -> bool:
        """Tell a controlled child its load window (epoch seconds); False when it is gone."""
        popen = self._popen
        if popen is None or popen.stdin is None:
            return False
        try:
            popen.stdin.write(window_line(start_at, end_at).encode("ascii"))
            popen.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def started(self) -> bool:
        return self._popen is not None

    def poll(self) -> int | None:
        """The exit code, or None while running (or not started)."""
        return self._popen.poll() if self._popen is not None else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds for the exit; the exit code or None if still running."""
        if self._popen is None:
            return None
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float = 10.0) -> int | None:
        """End the process and its group: SIGTERM, then SIGKILL after ``grace`` seconds. Idempotent."""
        popen = self._popen
        if popen is None:
            return None
        code = popen.poll()
        if code is None:
            self._signal_group(popen.pid, signal.SIGTERM)
            code = self.wait(grace)
            if code is None:
                logger.warning("%s (pid %d) did not stop within %.0fs of SIGTERM; killing it", self.name,
                               popen.pid, grace)
                self._signal_group(popen.pid, signal.SIGKILL)
                code = self.wait(5.0)
        # The leader is gone; make sure nothing it spawned is left in its group.
        self._signal_group(popen.pid, signal.SIGKILL)
        self._release()
        return code

    def _release(self) -> None:
        popen = self._popen
        if popen is not None and popen.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                popen.stdin.close()
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None
        with _live_lock:
            _live.discard(self)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def live_children() -> list[ChildProcess]:
    """The children started and not yet stopped (for checks that nothing is left behind)."""
    with _live_lock:
        return list(_live)


def kill_all_children() -> None:
    """Kill every child still running (at interpreter exit)."""
    with _live_lock:
        children = list(_live)
    for child in children:
        with contextlib.suppress(Exception):
            child.stop(grace=2.0)


atexit.register(kill_all_children)
