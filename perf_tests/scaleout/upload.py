"""``PERF_RESULTS_URL`` in a scaled-out run (``pytest -n N``, ``merge``, ``run --pods``): one uploader, two uses.

- The merged run: once its results directory is written, it goes up exactly as a one-process run's does:
  the whole folder under ``<prefix>/<run_id>/``, and the scenario file's ``latest`` pointer only when the run
  finished (not interrupted, summary written).
- A shard pod of ``run --pods`` (``run --shard --shard-upload``): its results directory goes up to
  ``<prefix>/<run_id>/shard-<i>/`` (never a pointer: a shard is a part of a run), and the controller
  fetches those folders (shard.json and events) to merge them as it merges local shards
  (``fetch_shard``). Other shards (``pytest -n``, ``run --shard``) never upload on their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from perf_tests.session.session import CompletedRun
    from perf_tests.storage.upload import UploadOutcome
    from perf_tests.storage.uploader import ResultsUploader

__all__ = ["fetch_shard", "shard_key", "upload_merged", "upload_shard"]


def shard_key(run_id: str, index: int) -> str:
    """The folder of shard ``index`` under ``<prefix>/``: ``<run_id>/shard-<i>`` (as in the merged results)."""
    from perf_tests.scaleout.merge import shard_dir_name

    return f"{run_id}/{shard_dir_name(index)}"


def upload_merged(uploader: ResultsUploader | None, outcome: CompletedRun, scenario_file: str | None = None) -> None:
    """Upload the merged run's results directory and keep what the upload did in ``outcome.upload``.

    ``scenario_file`` names the ``latest`` pointer; by default the shards' scenario file.
    """
    if uploader is None:
        return
    scenario_file = scenario_file or outcome.document.scenario_file
    outcome.upload = uploader.upload(
        outcome.results_dir, outcome.run_id, Path(scenario_file).name if scenario_file else "scenario",
        finished=outcome.summary_written and not outcome.interrupted and not outcome.results_error,
        passed=outcome.passed,
    )


def upload_shard(uploader: ResultsUploader, results_dir: Path, run_id: str, index: int, scenario_file: str,
                 stop: Callable[[], bool]) -> UploadOutcome:
    """Upload one shard's results directory to ``<prefix>/<run_id>/shard-<i>/`` (no ``latest`` pointer)."""
    return uploader.upload(results_dir, shard_key(run_id, index), scenario_file, finished=False, passed=None,
                           stop=stop)


def fetch_shard(uploader: ResultsUploader, run_id: str, index: int, root: Path) -> Path:
    """Download ``<prefix>/<run_id>/shard-<i>/`` into ``root/shard-<i>``; that folder (``StorageError``)."""
    from perf_tests.storage.remote import download_run, open_store

    store = open_store(uploader.settings)
    try:
        return download_run(str(uploader.base.child(shard_key(run_id, index))), root, store)
    finally:
        store.close()
