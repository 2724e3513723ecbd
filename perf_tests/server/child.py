"""The simulator in a child process (``isolation="process"``), driven through its admin endpoints.

In a thread, the simulator shares the test process's GIL with the clients it serves; under heavy
in-process load the two slow each other down. A child process has its own interpreter (and core):
:class:`~perf_tests.server.embedded.EmbeddedKfpServer` starts ``python -m perf_tests.server`` with
the same settings, reads the URL it prints, and stops it by closing its standard input, so the child
also ends if the parent dies.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import deque
from typing import Any

from perf_tests.server.config import SimulatorConfig

__all__ = ["ChildServer"]

logger = logging.getLogger(__name__)

_READY = "serving the KFP v2beta1 API at "


class ChildServer:
    """A running ``python -m perf_tests.server`` child and its base URL."""

    def __init__(self, process: subprocess.Popen[str], url: str, output: deque[str], drain: threading.Thread) -> None:
        self.process = process
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self._output = output
        self._drain = drain

    @classmethod
    def start(
        cls,
        *,
        host: str,
        port: int,
        db_path: str,
        event_loop: str,
        config: SimulatorConfig,
        timeout: float = 30.0,
    ) -> ChildServer:
        """Start the child and wait until it serves.

        Raises:
            RuntimeError: the child exited or did not report its URL within ``timeout`` (its output
                is in the message).
        """
        command = [
            sys.executable,
            "-m",
            "perf_tests.server",
            "--host",
            host,
            "--port",
            str(port),
            "--db",
            db_path,
            "--event-loop",
            event_loop,
            "--config",
            config.model_dump_json(),
            "--log-level",
            "WARNING",
            "--stop-on-stdin-eof",
        ]
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a Ctrl-C meant for the parent reaches the child through stdin EOF
        )
        output: deque[str] = deque(maxlen=200)
        urls: queue.Queue[str] = queue.Queue()
        drain = threading.Thread(
            target=_drain, args=(process, output, urls), name=f"kfp-simulator-child-{process.pid}", daemon=True
        )
        drain.start()
        try:
            url = urls.get(timeout=timeout)
        except queue.Empty:
            url = ""
        if not url:
            process.kill()
            _reap(process, drain)
            text = "".join(output).strip() or "(no output)"
            raise RuntimeError(f"the embedded KFP simulator child process did not start:\n{text}")
        return cls(process, url, output, drain)

    @property
    def alive(self) -> bool:
        """Whether the child is still running."""
        return self.process.poll() is None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Call an admin endpoint and return its JSON answer.

        Raises:
            RuntimeError: the child answered with an error (its message included).
        """
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"{method} {path} failed with HTTP {exc.code}: {detail}") from None

    def stop(self, timeout: float = 10.0) -> None:
        """Close the child's stdin (it stops cleanly), kill it if it does not within ``timeout``."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("the embedded KFP simulator child did not stop within %.0f s; killing it", timeout)
            self.process.kill()
        _reap(self.process, self._drain)


def _reap(process: subprocess.Popen[str], drain: threading.Thread) -> None:
    """Wait for the child and its output reader, and close the pipes."""
    process.wait()
    drain.join(5)
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def _drain(process: subprocess.Popen[str], output: deque[str], urls: queue.Queue[str]) -> None:
    """Read the child's output (so its pipe never fills), handing over the URL it announces."""
    assert process.stdout is not None
    announced = False
    for line in process.stdout:
        output.append(line)
        if not announced and _READY in line:
            announced = True
            urls.put(line.rsplit(_READY, 1)[1].strip())
        elif announced:
            logger.debug("simulator child: %s", line.rstrip())
    if not announced:
        urls.put("")
