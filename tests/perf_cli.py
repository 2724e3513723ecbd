"""Running the framework's CLI in a child process as a user does, and stand-in programs for it to start."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["REPO", "perf_env", "perf_run", "shell_script"]

REPO = Path(__file__).resolve().parents[1]


def shell_script(path: Path, body: str) -> Path:
    """An executable ``/bin/sh`` script at ``path`` running ``body`` (a stand-in for a program)."""
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def perf_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with the repository importable and ``extra`` set."""
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def perf_run(scenario: Path, results: Path, env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m perf_tests run SCENARIO --results-dir RESULTS`` from the repository, ``env`` added to the
    environment, its output captured."""
    command = [sys.executable, "-m", "perf_tests", "run", str(scenario), "--results-dir", str(results)]
    return subprocess.run(command, cwd=REPO, env=perf_env(env), capture_output=True, text=True, timeout=timeout)
