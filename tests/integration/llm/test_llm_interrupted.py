"""A stopped or killed LLM_LOAD run keeps the requests that finished (GuideLLM writes its report only at
its end): they are recorded as they finish, so summary.json (Ctrl-C) or the summary that
``python -m perf_tests report`` rebuilds from events.jsonl (SIGKILL) has them.

Each test runs ``python -m perf_tests run`` with a 60-s entry against the embedded mock server, waits until
GuideLLM finished some requests, then interrupts it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perf_tests.llm.results.live import LAG, parse_request_line

pytestmark = [pytest.mark.llm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
ENTRY = {"mode": "LLM_LOAD", "name": "llm", "startTime": 0, "runTime": "60s", "rate": 5, "workers": 1,
         "promptTokens": 16, "outputTokens": 8, "mockServer": {"ttftMs": 5, "itlMs": 1, "outputTokens": 8}}


PROCESSING = 2.0
"""Seconds a finished request may take, on a busy machine, to be read and recorded after GuideLLM wrote it."""


def start_run(folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    (folder / "s.json").write_text(json.dumps([ENTRY]), encoding="utf-8")
    results = folder / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "SCENARIO_"))}
    env.update(PERF_RESULTS_DIR=str(results))
    with (folder / "console.log").open("wb") as console:
        proc = subprocess.Popen([sys.executable, "-m", "perf_tests", "run", str(folder / "s.json")], cwd=REPO,
                                env=env, stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, results


def console(folder: Path) -> str:
    return (folder / "console.log").read_text(encoding="utf-8", errors="replace")[-3000:]


def finished_requests(results: Path) -> list[Any]:
    path = results / "llm" / "guidellm.requests.jsonl"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [r for r in (parse_request_line(line) for line in lines) if r is not None]


def wait_for_requests(proc: subprocess.Popen[bytes], results: Path, count: int, timeout: float = 240) -> None:
    """Until GuideLLM finished ``count`` requests and the first of them reached events.jsonl."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, console(results.parent)
        events = results / "events.jsonl"
        if (len(finished_requests(results)) >= count and events.is_file()
                and '"llm_request"' in events.read_text(encoding="utf-8")):
            return
        time.sleep(0.5)  # polling another process's files: nothing to wait on
    raise AssertionError(f"GuideLLM did not finish {count} requests within {timeout:g}s")


def children_of(pid: int) -> list[int]:
    """Processes (the launcher, GuideLLM's workers, the mock server) started by the run ``pid``."""
    marker = f"PERF_TESTS_PARENT_PID={pid}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def llm_request(summary: dict[str, Any]) -> dict[str, Any]:
    [part] = [p for p in summary["scenarios"] if p["name"] == "llm"]
    operation: dict[str, Any] = part["operations"]["llm_request"]
    return operation


def test_a_killed_run_keeps_the_finished_requests_for_the_rebuilt_summary(tmp_path: Path) -> None:
    proc, results = start_run(tmp_path)
    try:
        wait_for_requests(proc, results, 20)
        time.sleep(LAG + 1.0)  # let the recorder hand over a few more seconds
        killed_at = time.time()
        os.killpg(proc.pid, signal.SIGKILL)  # the run and nothing else: the launcher sees it die
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    deadline = time.monotonic() + 30
    while children_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert children_of(proc.pid) == []  # GuideLLM, its workers and the mock server ended with it
    assert not (results / "summary.json").exists()
    rebuilt = subprocess.run([sys.executable, "-m", "perf_tests", "report", str(results)], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    finished = [r for r in finished_requests(results) if r.status == "successful"]
    # a request is handed over once its second is LAG seconds past (and it was read): all that started
    # well before the kill are in the rebuilt summary, none that did not finish
    handed_over = [r for r in finished if r.start is not None and r.start < killed_at - LAG - 1.0 - PROCESSING]
    ok = llm_request(summary)["ok"]
    assert len(handed_over) <= ok <= len(finished), (ok, len(handed_over), len(finished))
    assert ok >= 20


def test_ctrl_c_keeps_the_finished_requests_in_the_summary(tmp_path: Path) -> None:
    proc, results = start_run(tmp_path)
    try:
        wait_for_requests(proc, results, 20)
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    finished = [r for r in finished_requests(results) if r.status == "successful"]
    assert llm_request(summary)["ok"] == len(finished) >= 20, console(tmp_path)
    assert children_of(proc.pid) == []
