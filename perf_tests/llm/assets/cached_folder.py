"""Folders built once into a cache (tokenizers, the tiny model): never seen half-written."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["cached_folder"]

logger = logging.getLogger(__name__)

_lock = threading.RLock()  # re-entrant: building one folder may need another (the model its tokenizer)


def cached_folder(target: Path, files: Iterable[str], build: Callable[[Path], object], what: str) -> Path:
    """``target`` once it holds ``files``; else ``build`` it in a scratch folder and rename that into place.

    Thread-safe here, and safe across processes: a process that loses the rename race uses the winner's.
    """
    names = tuple(files)

    def complete() -> bool:
        return all((target / name).is_file() for name in names)

    with _lock:
        if complete():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
        try:
            build(scratch)
            try:
                os.replace(scratch, target)
            except OSError:  # another process won the race: its folder is as good as ours
                if not complete():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        logger.info("built %s in %s", what, target)
        return target
