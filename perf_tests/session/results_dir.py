"""The results directory of a run: created and checked for writing before anything runs.

A path that is a file, lies under a file, is too long, or is on a read-only or full file system fails
here with one message naming where the path came from (``PERF_RESULTS_DIR``, ``--results-dir``), instead
of an ``OSError`` traceback once the run has started.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from perf_tests.errors import ConfigurationError

__all__ = ["prepare_results_dir"]

_PATH_MAX = 4096  # Linux PATH_MAX, terminating NUL included
_NAME_MAX = 255


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-40:]} ({len(text)} characters)"


def _name_max(path: Path) -> int:
    for parent in (path, *path.parents):
        if os.path.isdir(parent):  # os.path, not Path: it answers False for a name too long to stat
            with contextlib.suppress(OSError, ValueError):
                return int(os.pathconf(parent, "PC_NAME_MAX"))
            break
    return _NAME_MAX


def prepare_results_dir(path: Path, source: str) -> None:
    """Create ``path`` (and its parents) and check that a file can be written in it.

    ``source`` names where the path came from, for the message; raises ``ConfigurationError``.
    """
    allowed = "give a writable directory (it is created if missing)"
    if len(os.fsencode(str(path))) >= _PATH_MAX:
        raise ConfigurationError(f"{source}={_shown(path)} is too long: a path may have at most "
                                 f"{_PATH_MAX - 1} bytes; {allowed}")
    name_max = _name_max(path)
    for part in path.parts:
        if len(os.fsencode(part)) > name_max:
            raise ConfigurationError(f"{source}={_shown(path)} has a directory name of {len(part)} characters; "
                                     f"at most {name_max} are allowed; {allowed}")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ConfigurationError(f"{source}={_shown(path)} is a file, not a directory; {allowed}")
    for parent in path.parents:
        if os.path.lexists(parent) and not os.path.isdir(parent):
            raise ConfigurationError(f"{source}={_shown(path)} is under {parent}, which is a file, not a "
                                     f"directory; {allowed}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"{source}={_shown(path)} cannot be created ({exc.strerror or exc}); "
                                 f"{allowed}") from None
    # os.access is no answer for root, nor for a read-only mount or a full disk: try it.
    try:
        handle, probe = tempfile.mkstemp(prefix=".perf-tests-write-check-", dir=path)
        try:
            os.write(handle, b"ok")
            os.fsync(handle)
        finally:
            os.close(handle)
            os.unlink(probe)
    except OSError as exc:
        raise ConfigurationError(f"{source}={_shown(path)} is not writable ({exc.strerror or exc}); "
                                 f"{allowed}") from None
