"""``VllmServer``'s own failure paths, with a stand-in interpreter (a shell script) instead of vLLM's.

A server that exits, or never answers, is a clear ``TargetError`` with its last log lines within the
deadline, and nothing of its process group is left behind. These take a second; no vLLM is started.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from perf_tests.errors import TargetError
from tests.integration.vllm.vllm_server import VllmServer
from tests.perf_cli import shell_script


def _script(tmp_path: Path, body: str) -> Path:
    return shell_script(tmp_path / "python", body)


def test_a_server_that_exits_is_a_clear_error_with_its_last_log_lines(tmp_path: Path) -> None:
    python = _script(tmp_path, 'echo "loading $4"\necho "ValueError: no model in $4" >&2\nexit 3')
    server = VllmServer(tmp_path / "model", tmp_path / "server.log", python=python)
    with pytest.raises(TargetError) as error:
        server.start(timeout=30.0)
    message = str(error.value)
    assert "exited with code 3" in message
    assert f"ValueError: no model in {tmp_path / 'model'}" in message  # the server's own last lines
    assert str(tmp_path / "server.log") in message
    assert server.pid is None


def test_a_server_that_never_answers_is_stopped_with_everything_it_started(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    python = _script(tmp_path, f'sleep 300 &\necho $! > {child_pid}\necho "still importing"\nwait')
    server = VllmServer(tmp_path / "model", tmp_path / "server.log", python=python)
    with pytest.raises(TargetError, match=re.escape("did not list 'tiny-llama' in /v1/models within 1.5s")) as error:
        server.start(timeout=1.5)
    assert "still importing" in str(error.value)
    child = int(child_pid.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # the server's own child went with its process group
