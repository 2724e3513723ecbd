"""The end-of-run hook of ``PerfSession``: upload the results when ``PERF_RESULTS_URL`` is set.

``ResultsUploader.from_environment()`` reads the storage settings before anything runs (a bad value is a
setting error, exit 2) and is None without ``PERF_RESULTS_URL``. ``upload`` runs after the results are
written, also after an interrupted run; a failure is one warning with the reason (the local copy stays),
and it fails the run only with ``PERF_UPLOAD_REQUIRED=true``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from perf_tests.storage.location import S3Location
from perf_tests.storage.settings import StorageSettings, load_storage_settings
from perf_tests.storage.upload import UploadOutcome, upload_results

__all__ = ["ResultsUploader"]

logger = logging.getLogger(__name__)


class ResultsUploader:
    """Uploads one run's results directory to ``PERF_RESULTS_URL``."""

    def __init__(self, settings: StorageSettings, base: S3Location) -> None:
        self.settings = settings
        self.base = base

    @classmethod
    def from_environment(cls) -> ResultsUploader | None:
        """The uploader of ``PERF_RESULTS_URL`` (None when unset); ConfigurationError for a bad setting or a
        missing boto3."""
        settings = load_storage_settings()
        if settings.results_url is None:
            return None
        from perf_tests.storage.remote import open_store

        open_store(settings).close()  # boto3 installed, the endpoint and region usable: checked before the run
        return cls(settings, settings.results_url)

    def upload(self, results_dir: Path, run_id: str, scenario_file: str, *, finished: bool, passed: bool | None,
               stop: Callable[[], bool] = lambda: False) -> UploadOutcome:  # fmt: skip
        """Upload and log the outcome (info, or one warning with the reason)."""
        from perf_tests.storage.remote import open_store

        logger.info("uploading the results to %s/", self.base.child(run_id))
        try:
            store = open_store(self.settings)
        except Exception as exc:  # an upload problem never costs the run its verdict
            outcome = UploadOutcome(url=f"{self.base.child(run_id)}/", error=str(exc))
        else:
            try:
                outcome = upload_results(store, self.base, results_dir, run_id, scenario_file, finished=finished,
                                         passed=passed, stop=stop)  # fmt: skip
            finally:
                store.close()
        outcome.required = self.settings.upload_required
        if outcome.ok:
            logger.info("%s", outcome.describe())
        else:
            logger.warning("%s; the local results stay in %s%s", outcome.describe(), results_dir,
                           " (PERF_UPLOAD_REQUIRED=true: the run fails)" if outcome.required else "")
        return outcome
