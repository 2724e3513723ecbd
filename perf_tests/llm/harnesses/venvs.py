"""Where the harnesses' own virtualenvs are: ``.venv-vllm`` (``make vllm-env``) and ``.venv-inference-perf``
(``make inference-perf-env``), at the repository root, and the version each holds."""

from __future__ import annotations

from pathlib import Path

from perf_tests.errors import RunnerError

__all__ = ["HELD_START", "HELD_START_FLAGS", "REPO", "installed_version", "venv_python"]

REPO = Path(__file__).resolve().parents[3]
HELD_START = Path(__file__).resolve().with_name("held_start.py")
"""The script a harness's own interpreter runs (by path: it imports nothing of perf_tests)."""
HELD_START_FLAGS = ("-I", "-u")
"""Isolated (the script's folder, which holds ``inference_perf.py``, and ``PYTHONPATH`` stay off ``sys.path``:
``import inference_perf`` must find the tool, not this package's module of that name) and unbuffered."""


def venv_python(folder: str, make_target: str, harness: str) -> Path:
    """``<repo>/<folder>/bin/python``; ``RunnerError`` naming the make target when it is missing."""
    python = REPO / folder / "bin" / "python"
    if not python.is_file():
        raise RunnerError(f"harness {harness} needs its virtualenv {REPO / folder}, which is missing; create it "
                          f"with `make {make_target}`")
    return python


def installed_version(python: Path, *distributions: str) -> str:
    """The version of the first of ``distributions`` installed in ``python``'s virtualenv (from its
    ``.dist-info`` folder, without starting the interpreter), or ``unknown``."""
    venv = python.parent.parent
    for distribution in distributions:
        stem = distribution.replace("-", "_")
        for info in sorted(venv.glob(f"lib/python3*/site-packages/{stem}-*.dist-info")):
            return info.name.removeprefix(f"{stem}-").removesuffix(".dist-info")
    return "unknown"
