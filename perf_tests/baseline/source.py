"""Where a baseline or a compared summary comes from: a local file or folder, or an ``s3://`` reference.

``s3://bucket/prefix/latest`` is the last finished run of the scenario file being run (``compare``,
which runs none, takes the only pointer there or ``.../latest/<scenario file name>``); a run id or a
``summary.json`` key names one run (see ``perf_tests.storage.remote``).
"""

from __future__ import annotations

from pathlib import Path

from perf_tests.baseline.compare import Baseline, load_summary
from perf_tests.baseline.settings import BaselineOptions
from perf_tests.results.summary import SummaryDocument
from perf_tests.storage.location import is_s3_url

__all__ = ["load_summary_reference", "open_baseline"]


def load_summary_reference(reference: str | Path, role: str = "baseline", scenario_file: str | None = None,
                           ) -> SummaryDocument:  # fmt: skip
    """The checked summary a path or an ``s3://`` reference names (errors name it as ``role``)."""
    if is_s3_url(str(reference)):
        from perf_tests.storage.remote import fetch_summary

        return fetch_summary(str(reference), role, scenario_file)
    return load_summary(reference, role)


def open_baseline(reference: str | Path, options: BaselineOptions | None = None,
                  scenario_file: str | None = None) -> Baseline:  # fmt: skip
    """The ``Baseline`` a path or an ``s3://`` reference names."""
    if is_s3_url(str(reference)):
        return Baseline(str(reference), options, summary=load_summary_reference(reference, "baseline", scenario_file))
    return Baseline(reference, options)
