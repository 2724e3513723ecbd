"""Reading results back from S3: a baseline's ``summary.json``, or a whole run for ``report``.

A reference is an ``s3://`` URL, one of:

``s3://bucket/prefix/latest``               the last finished run of the scenario file being run (the
                                            pointer ``prefix/latest/<scenario file name>``); for ``compare``
                                            and ``report``, which run no scenario, the only pointer there is
``s3://bucket/prefix/latest/nightly.json``  the last finished run of ``nightly.json``
``s3://bucket/prefix/<run_id>``             that run's results folder
``s3://bucket/prefix/<run_id>/summary.json`` that file
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from perf_tests.errors import ConfigurationError, StorageError
from perf_tests.storage.client import S3Store
from perf_tests.storage.location import LATEST, S3Location
from perf_tests.storage.settings import StorageSettings, load_storage_settings
from perf_tests.storage.upload import LatestPointer, latest_location

if TYPE_CHECKING:
    from perf_tests.results.summary import SummaryDocument

__all__ = ["download_run", "fetch_summary", "open_store", "resolve_run"]

_SUMMARY = "summary.json"


def open_store(settings: StorageSettings | None = None) -> S3Store:
    """An ``S3Store`` from the storage settings; ConfigurationError when boto3 is not installed."""
    try:
        import boto3  # noqa: F401 - only to say clearly that it is missing
    except ImportError:
        raise ConfigurationError(
            "s3:// results need boto3: install the s3 extra (pip install -e '.[s3]', which make setup does)"
        ) from None
    return S3Store(settings or load_storage_settings())


def _pointer(store: S3Store, reference: S3Location, scenario_file: str | None) -> S3Location:
    """The pointer a ``.../latest`` or ``.../latest/<name>`` reference means."""
    if reference.name != LATEST:
        name = reference.name
        return reference.parent.child(name if Path(name).suffix else f"{name}.json")
    if scenario_file:
        return latest_location(reference.parent, scenario_file)
    names = sorted(key.rsplit("/", 1)[-1] for key in store.list_keys(reference))
    if len(names) == 1:
        return reference.child(names[0])
    raise StorageError(
        f"{reference} names no single run: "
        + (f"there are pointers for {', '.join(names)}; give {reference}/<scenario file name>" if names
           else "no run has finished there yet (a pointer is written only when a run finishes)")
    )


def _read_pointer(store: S3Store, pointer: S3Location) -> LatestPointer:
    try:
        data = store.get_bytes(pointer, limit=64 * 1024)
    except StorageError as exc:
        if exc.missing:
            raise StorageError(f"no finished run at {pointer} (a pointer is written only when a run finishes; "
                               "check the prefix and the scenario file name)") from None
        raise
    try:
        return LatestPointer.model_validate_json(data)
    except ValidationError:
        raise StorageError(f"{pointer} is not a perf-tests latest pointer") from None


def resolve_run(store: S3Store, reference: S3Location, scenario_file: str | None = None) -> S3Location:
    """The results folder a reference names."""
    if reference.name == LATEST or reference.parent.name == LATEST:
        return S3Location.parse(_read_pointer(store, _pointer(store, reference, scenario_file)).results)
    if reference.name.endswith(".json"):
        return reference.parent
    return reference


def fetch_summary(reference_url: str, role: str = "baseline", scenario_file: str | None = None,
                  store: S3Store | None = None) -> SummaryDocument:  # fmt: skip
    """The checked ``summary.json`` a reference names; errors name the URL and the ``role``."""
    from perf_tests.results.read import read_summary

    reference = S3Location.parse(reference_url, role)
    own = store is None
    store = store or open_store()
    try:
        source = reference if reference.name.endswith(".json") and reference.parent.name != LATEST else (
            resolve_run(store, reference, scenario_file).child(_SUMMARY))
        try:
            data = store.get_bytes(source)
        except StorageError as exc:
            if exc.missing:
                raise StorageError(f"{role} {source} does not exist; give a run's s3:// results folder, its "
                                   "summary.json or .../latest") from None
            raise
    finally:
        if own:
            store.close()
    with tempfile.TemporaryDirectory(prefix="perf-tests-summary-") as folder:
        path = Path(folder) / _SUMMARY
        path.write_bytes(data)
        try:
            return read_summary(path, role)
        except ConfigurationError as exc:
            raise ConfigurationError(str(exc).replace(str(path), str(source))) from None


def download_run(reference_url: str, destination_root: Path, store: S3Store | None = None) -> Path:
    """Download the run a reference names into ``destination_root/<run_id>``; that folder."""
    reference = S3Location.parse(reference_url, "results")
    own = store is None
    store = store or open_store()
    try:
        folder = resolve_run(store, reference)
        keys = list(store.list_keys(folder))
        if not keys:
            raise StorageError(f"{folder} holds no results; give a run's s3:// results folder or .../latest")
        destination = destination_root / folder.name
        for key in keys:
            relative = key[len(folder.key) + 1:]
            if not relative or ".." in Path(relative).parts:
                continue
            store.download_file(S3Location(folder.bucket, key), destination / relative)
        return destination
    finally:
        if own:
            store.close()
