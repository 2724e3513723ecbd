"""Finding a Python >= 3.12 for inference-perf's virtualenv (``make inference-perf-env``).

inference-perf requires Python 3.12 or newer; the image's default ``python3`` may be older. Looked up in
order: ``$PERF_PYTHON312`` (an explicit interpreter), ``python3.12``/``python3.13`` on ``PATH``,
``$(pyenv root)/versions/3.1[2-9]*`` and ``~/.pyenv/versions/3.1[2-9]*`` (3.12 first: the version
inference-perf is tested with, and the one every wheel it needs exists for). ``python -m
perf_tests.llm.harnesses.python_finder`` prints the interpreter found, or says what to install and exits 1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["MINIMUM", "find_python", "python_candidates"]

MINIMUM = (3, 12)
_ENV = "PERF_PYTHON312"


def _version(python: Path) -> tuple[int, int] | None:
    try:
        out = subprocess.run([str(python), "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _pyenv_roots() -> list[Path]:
    roots = []
    if os.environ.get("PYENV_ROOT"):
        roots.append(Path(os.environ["PYENV_ROOT"]))
    pyenv = shutil.which("pyenv")
    if pyenv:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            roots.append(Path(subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30,
                                             check=True).stdout.strip()))
    roots.append(Path.home() / ".pyenv")
    return list(dict.fromkeys(roots))


def python_candidates() -> list[Path]:
    """Interpreters to try, in order (not yet checked)."""
    found: list[Path] = []
    if os.environ.get(_ENV):
        found.append(Path(os.environ[_ENV]))
    for name in ("python3.12", "python3.13"):
        path = shutil.which(name)
        if path:
            found.append(Path(path))
    for root in _pyenv_roots():
        versions = sorted((root / "versions").glob("3.1[2-9]*"), key=lambda p: _sort_key(p.name))
        found += [version / "bin" / "python" for version in versions]
    return list(dict.fromkeys(found))


def _sort_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in name.split("."))


def find_python() -> Path | None:
    """The first candidate that runs and is Python >= 3.12, or None."""
    for candidate in python_candidates():
        if candidate.is_file() or shutil.which(str(candidate)):
            version = _version(candidate)
            if version is not None and version >= MINIMUM:
                return candidate
    return None


def main() -> int:
    python = find_python()
    if python is None:
        print("no Python >= 3.12 found for inference-perf (looked at $PERF_PYTHON312, python3.13/python3.12 on "
              "PATH and pyenv's versions); install one (e.g. `pyenv install 3.12`) or set PERF_PYTHON312 to an "
              "interpreter", file=sys.stderr)
        return 1
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
