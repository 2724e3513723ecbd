"""Requests recorded as GuideLLM finishes them, so a stopped or killed run keeps what it measured.

GuideLLM 0.8 writes its JSON report only when its run ends: a run stopped by Ctrl-C, or a test run
killed with SIGKILL, had no report and so no operations (7 s of load, 0 operations in the rebuilt
summary). The launcher therefore appends each finished request to ``<label>.requests.jsonl``
(``perf_tests.llm.process.startup.REQUESTS_ENV``) with the timings GuideLLM's report gives it, and
``LiveRequests`` reads those files while the load runs: each request becomes an ``llm_request``
attempt at once, and every second that is over is handed to the recorder (and so written to
``events.jsonl``) within ``LAG`` seconds. At the end the runner takes GuideLLM's statistics from its
report and no longer replays the requests from it (they are recorded already).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perf_tests.llm.results.parsing import RequestRecord
from perf_tests.llm.results.recording import record_request
from perf_tests.recorder.events import EventHook
from perf_tests.recorder.per_second import PerSecondAggregator
from perf_tests.scheduler.clock import SYSTEM_TIME, Clock

__all__ = ["LAG", "LiveRequests", "parse_request_line"]

logger = logging.getLogger(__name__)

LAG = 2.0
"""Seconds after a second ends before its aggregate is handed over (requests finish after they start)."""
_POLL = 0.5


def parse_request_line(line: str) -> RequestRecord | None:
    """One line of a requests file as a ``RequestRecord`` (None for a line that is not one)."""
    try:
        data: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("status") not in ("successful", "errored", "incomplete"):
        return None

    def number(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return RequestRecord(
        status=str(data["status"]), targeted_start=number("targeted_start"), start=number("start"),
        end=number("end"), latency=number("latency"), scheduled_latency=None, ttft_ms=None, itl_ms=None,
        tpot_ms=None, prompt_tokens=None, output_tokens=None, first_token=number("first_token"),
        error=str(data["error"]) if data.get("error") else None,
    )


class LiveRequests:
    """Reads the requests files of an entry's GuideLLM processes in a thread and records each request."""

    def __init__(self, hook: EventHook, scenario: str, mode: str, paths: Sequence[Path],
                 clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else Clock(SYSTEM_TIME)  # the run's: seconds end on its time
        self._stream = PerSecondAggregator(hook, scenario, mode)
        self._paths = list(paths)
        self._offsets = dict.fromkeys(self._paths, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recorded = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"llm-live-{id(self):x}", daemon=True)
        self._thread.start()

    def finish(self) -> int:
        """Read what is left, hand every second over and stop; the number of requests recorded."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._read()
        self._stream.flush()
        return self.recorded

    def _run(self) -> None:
        while not self._clock.wait(self._stop, _POLL):
            try:
                self._read()
                self._stream.flush(before=self._clock.wall_now() - LAG)
            except Exception:  # a bad line or file must not end the recording of the rest
                logger.exception("reading GuideLLM's finished requests failed")

    def _read(self) -> None:
        for path in self._paths:
            try:
                with path.open("rb") as handle:
                    handle.seek(self._offsets[path])
                    data = handle.read()
            except OSError:
                continue  # not yet written
            end = data.rfind(b"\n") + 1  # whole lines only; a partial one is read next time
            self._offsets[path] += end
            for raw in data[:end].decode("utf-8", "replace").splitlines():
                request = parse_request_line(raw)
                if request is not None:
                    record_request(self._stream, request)
                    self.recorded += 1
