"""Nothing lost: an interrupt while summary.json is written leaves complete or rebuildable results and the
exit says which; a full disk stops the run with one clear message and keeps what was written.

The moment "while summary.json is written" is made exact with a FIFO at ``summary.json.tmp`` whose pipe
holds 4 KiB: the run blocks in the middle of writing its summary until the test reads it. A full disk is
``/dev/full`` (every write fails with ENOSPC), which works without mounts, as root or not.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ENTRY = {"mode": "PIPELINE_RUN", "name": "kept", "startTime": 0, "runTime": "1s", "numTimes": 1,
         "pollInterval": "100ms"}
SIMULATOR = json.dumps({"task_seconds": 0.05, "pending_seconds": 0.02})


def perf(tmp_path: Path, results: Path, *args: str) -> subprocess.Popen[str]:
    scenario = tmp_path / "kept.json"
    scenario.write_text(json.dumps([ENTRY]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "REQUEST_"))}
    env.update(PERF_RESULTS_DIR=str(results), EMBEDDED_SIMULATOR=SIMULATOR)
    command = [sys.executable, "-m", "perf_tests", *(args or ("run", str(scenario)))]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def blocking_summary(results: Path) -> int:
    """A FIFO at summary.json.tmp with a 4 KiB pipe; returns its read end (non-blocking)."""
    results.mkdir(parents=True)
    fifo = results / "summary.json.tmp"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)
    return reader


def wait_until_writing(reader: int) -> None:
    readable, _, _ = select.select([reader], [], [], 120)
    assert readable, "the run never started writing summary.json"


def drain(reader: int) -> bytes:
    os.set_blocking(reader, True)
    chunks = []
    while chunk := os.read(reader, 65536):
        chunks.append(chunk)
    os.close(reader)
    return b"".join(chunks)


def test_sigterm_while_the_summary_is_written_leaves_it_complete(tmp_path):
    results = tmp_path / "results"
    reader = blocking_summary(results)
    proc = perf(tmp_path, results)
    try:
        wait_until_writing(reader)
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        for line in proc.stderr:  # handled, not fatal: the run says so and goes on writing
            if "SIGTERM" in line:
                break
        written = drain(reader)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert len(written) > 4096  # the run really was in the middle of writing
    summary = json.loads(written)  # complete, not cut off
    assert summary["scenarios"][0]["name"] == "kept"
    assert proc.returncode in (0, 1)
    assert "Traceback" not in stdout + stderr
    assert (results / "report.html").is_file()


def test_a_second_interrupt_while_the_summary_is_written_says_how_to_rebuild_it(tmp_path):
    results = tmp_path / "results"
    reader = blocking_summary(results)
    proc = perf(tmp_path, results)
    try:
        wait_until_writing(reader)
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        for line in proc.stderr:
            if "press Ctrl-C again" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        os.close(reader)
    assert proc.returncode == 130
    assert "The results are incomplete: summary.json was not written" in stderr
    assert f"python -m perf_tests report {results}" in stderr
    assert "Traceback" not in stderr
    assert not (results / "summary.json.tmp").exists()  # no half-written file left behind
    rebuild = perf(tmp_path, results, "report", str(results))
    _, err = rebuild.communicate(timeout=60)
    assert rebuild.returncode == 0, err
    rebuilt = json.loads((results / "summary.json").read_text())
    assert rebuilt["rebuilt_from_events"] is True
    assert rebuilt["scenarios"][0]["name"] == "kept"


needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


@needs_dev_full
def test_a_full_disk_stops_the_run_with_one_clear_message(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for name in ("events.jsonl", "perf.log", "perf.log.jsonl"):
        (results / name).symlink_to("/dev/full")
    proc = perf(tmp_path, results)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Logging error" not in stderr
    assert "Traceback" not in stdout + stderr
    assert stderr.count("No space left on device") <= 3, stderr
    assert "the run was stopped: cannot write" in stderr
    summary = json.loads((results / "summary.json").read_text())  # what could be written is kept
    assert summary["interrupted"] is True
    assert summary["passed"] is False


@needs_dev_full
def test_a_summary_the_disk_refuses_is_one_message_with_the_way_to_rebuild_it(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "summary.json.tmp").symlink_to("/dev/full")
    proc = perf(tmp_path, results)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in stdout + stderr
    assert f"could not write summary.json in {results} (No space left on device)" in stderr
    assert f"python -m perf_tests report {results}" in stderr
    assert (results / "events.jsonl").stat().st_size > 0  # what was recorded is kept
    assert not (results / "summary.json").exists()


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MiB tmpfs filled up to its last 24 KiB: the run fills it while it runs (needs mount rights)."""
    path = tmp_path / "disk"
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], capture_output=True,
                             check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        free = os.statvfs(path).f_bavail * os.statvfs(path).f_frsize
        (path / "filler").write_bytes(b"\0" * max(0, free - 24 * 1024))
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_a_disk_that_fills_up_during_the_run_stops_it_with_one_message(tmp_path, small_disk):
    results = small_disk / "results"
    proc = perf(tmp_path, results)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr[-2000:]
    assert "Logging error" not in stderr
    assert "Traceback" not in stdout + stderr
    # One line when it happens, one if the summary cannot be written, and the final message.
    assert len([line for line in stderr.splitlines() if "No space left on device" in line]) <= 3, stderr
    assert (results / "events.jsonl").stat().st_size > 0  # what was written is kept
    if not (results / "summary.json").exists():
        assert f"python -m perf_tests report {results}" in stderr
