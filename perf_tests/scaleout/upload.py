"""``PERF_RESULTS_URL`` for a merged run (``pytest -n N``, ``merge``, ``run --pods``).

Shards never upload (a shard is a part of a run). Once the merged results directory is written, it goes up
exactly as a one-process run's does: the whole folder under ``<prefix>/<run_id>/``, and the scenario file's
``latest`` pointer only when the run finished (not interrupted, summary written).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perf_tests.session.session import CompletedRun
    from perf_tests.storage.uploader import ResultsUploader

__all__ = ["upload_merged"]


def upload_merged(uploader: ResultsUploader | None, outcome: CompletedRun, scenario_file: str | None = None) -> None:
    """Upload the merged run's results directory and keep what the upload did in ``outcome.upload``.

    ``scenario_file`` names the ``latest`` pointer; by default the shards' scenario file (``run --pods`` gives
    its local file: its pods read a copy named ``scenario.json``).
    """
    if uploader is None:
        return
    scenario_file = scenario_file or outcome.document.scenario_file
    outcome.upload = uploader.upload(
        outcome.results_dir, outcome.run_id, Path(scenario_file).name if scenario_file else "scenario",
        finished=outcome.summary_written and not outcome.interrupted and not outcome.results_error,
        passed=outcome.passed,
    )
