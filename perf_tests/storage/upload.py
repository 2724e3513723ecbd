"""Uploading a run's results directory, and the ``latest`` pointer of its scenario file.

``upload_results`` copies every regular file of the results directory to ``<prefix>/<run_id>/`` (the
summary and the reports first, so an upload cut short keeps what matters most), then, only for a run that
finished (not interrupted, its summary written), writes ``<prefix>/latest/<scenario file name>``: a small
``LatestPointer`` naming the run. The first failed call ends the upload (an endpoint that is down would
make every later file wait for its retries); the outcome says what was uploaded and why it stopped. The
local results directory is never changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from perf_tests.errors import StorageError
from perf_tests.storage.client import S3Store
from perf_tests.storage.location import LATEST, S3Location

__all__ = ["FIRST_FILES", "LatestPointer", "UploadOutcome", "latest_location", "upload_results"]

logger = logging.getLogger(__name__)

FIRST_FILES = ("summary.json", "run.json", "report.html", "summary.csv")
"""Uploaded first, in this order; then every other file, sorted by path."""


class LatestPointer(BaseModel):
    """``<prefix>/latest/<scenario file name>``: the last finished run of that scenario file."""

    schema_version: int = 1
    run_id: str
    scenario: str = Field(description="The scenario file's name.")
    results: str = Field(description="s3:// URL of the run's results folder.")
    summary: str = Field(description="s3:// URL of the run's summary.json.")
    passed: bool | None = None
    updated_at: str = Field(description="When the pointer was written (UTC, ISO 8601).")


class UploadOutcome(BaseModel):
    """What an upload did: where to, how much, the pointer it updated and, if it failed, why."""

    url: str
    files: int = 0
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    seconds: float = 0.0
    latest: str | None = None
    error: str | None = None
    required: bool = Field(default=False, description="PERF_UPLOAD_REQUIRED: a failure fails the run.")

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def failed_required(self) -> bool:
        """The upload failed and ``PERF_UPLOAD_REQUIRED`` says that fails the run."""
        return self.required and not self.ok

    def describe(self) -> str:
        """One line for the log."""
        size = f"{self.uploaded_bytes / (1024 * 1024):.1f} MiB"
        if self.ok:
            pointer = f"; {self.latest} points at it" if self.latest else "; latest pointer not updated"
            return f"uploaded {self.uploaded_files} files ({size}) to {self.url} in {self.seconds:.1f}s{pointer}"
        return (f"results upload to {self.url} failed after {self.uploaded_files} of {self.files} files: "
                f"{self.error}")


def latest_location(base: S3Location, scenario_file: str) -> S3Location:
    """The pointer of ``scenario_file`` (its name, e.g. ``nightly.json``) under ``base``."""
    name = Path(scenario_file).name
    return base.child(LATEST, name if Path(name).suffix else f"{name}.json")


def _files(results_dir: Path) -> list[Path]:
    found = [p for p in results_dir.rglob("*") if p.is_file() and not p.is_symlink() and not p.name.endswith(".tmp")]
    first = {name: index for index, name in enumerate(FIRST_FILES)}
    return sorted(found, key=lambda p: (first.get(p.relative_to(results_dir).as_posix(), len(first)),
                                        p.relative_to(results_dir).as_posix()))  # fmt: skip


def upload_results(
    store: S3Store,
    base: S3Location,
    results_dir: Path,
    run_id: str,
    scenario_file: str,
    *,
    finished: bool,
    passed: bool | None = None,
    stop: Callable[[], bool] = lambda: False,
    on_file: Callable[[str], None] | None = None,
) -> UploadOutcome:
    """Upload ``results_dir`` under ``base/run_id/``; the pointer only when ``finished`` and all went up.

    ``stop`` is asked before each file (an interrupt during the upload); ``on_file`` is called with each
    file's relative path once it is uploaded.
    """
    target = base.child(run_id)
    files = _files(results_dir)
    outcome = UploadOutcome(url=str(target) + "/", files=len(files))
    started = time.monotonic()
    try:
        for path in files:
            if stop():
                outcome.error = "interrupted during the upload"
                break
            relative = path.relative_to(results_dir).as_posix()
            try:
                outcome.uploaded_bytes += store.upload_file(path, target.child(relative))
            except FileNotFoundError:  # a rotated log, gone since the listing
                continue
            outcome.uploaded_files += 1
            if on_file is not None:
                on_file(relative)
        if outcome.error is None and finished:
            pointer = latest_location(base, scenario_file)
            document = LatestPointer(run_id=run_id, scenario=Path(scenario_file).name, results=str(target) + "/",
                                     summary=str(target.child("summary.json")), passed=passed,
                                     updated_at=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
            store.put_bytes(document.model_dump_json(indent=2).encode("utf-8"), pointer)
            outcome.latest = str(pointer)
    except StorageError as exc:
        outcome.error = str(exc)
    except OSError as exc:  # a local file that cannot be read
        outcome.error = f"cannot read a results file ({exc.strerror or exc})"
    outcome.seconds = time.monotonic() - started
    return outcome
