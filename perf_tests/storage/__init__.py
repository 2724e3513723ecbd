"""Results in object storage: upload a run's results directory to S3, point ``latest`` at finished runs,
and read summaries and runs back for baselines, ``compare`` and ``report``.

``settings`` reads ``PERF_RESULTS_URL`` and the ``PERF_S3_*`` variables, ``location`` parses ``s3://``
URLs, ``client`` makes the S3 calls (boto3, retries, multipart, a total deadline per call), ``upload``
copies a results directory and writes the pointer, ``uploader`` is the session's end-of-run hook,
``remote`` resolves ``s3://.../latest`` and run ids.
"""

from perf_tests.storage.client import S3Store
from perf_tests.storage.location import LATEST, S3Location, is_s3_url
from perf_tests.storage.remote import download_run, fetch_summary, open_store, resolve_run
from perf_tests.storage.settings import StorageSettings, load_storage_settings
from perf_tests.storage.upload import LatestPointer, UploadOutcome, latest_location, upload_results
from perf_tests.storage.uploader import ResultsUploader

__all__ = [
    "LATEST",
    "LatestPointer",
    "ResultsUploader",
    "S3Location",
    "S3Store",
    "StorageSettings",
    "UploadOutcome",
    "download_run",
    "fetch_summary",
    "is_s3_url",
    "latest_location",
    "load_storage_settings",
    "open_store",
    "resolve_run",
    "upload_results",
]
