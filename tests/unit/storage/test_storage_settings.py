"""s3:// locations and the storage settings: what is accepted, and errors that name the variable."""

from __future__ import annotations

import pytest

from perf_tests.errors import ConfigurationError
from perf_tests.session.session import PerfSession
from perf_tests.storage import S3Location, latest_location, load_storage_settings


@pytest.mark.parametrize(("url", "bucket", "key"), [
    ("s3://perf-results/nightly", "perf-results", "nightly"),
    ("s3://perf-results/a//b/", "perf-results", "a/b"),
    ("s3://perf.results", "perf.results", ""),
    (" S3://perf-results/x ", "perf-results", "x"),
])  # fmt: skip
def test_s3_urls(url: str, bucket: str, key: str) -> None:
    assert S3Location.parse(url) == S3Location(bucket, key)


@pytest.mark.parametrize(("url", "message"), [
    ("http://bucket/x", "is not an s3:// URL"),
    ("s3://Upper/x", "is not a bucket name"),
    ("s3://ab/x", "is not a bucket name"),
    ("s3:///x", "is not a bucket name"),
])  # fmt: skip
def test_bad_s3_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        S3Location.parse(url, "PERF_RESULTS_URL")


def test_the_latest_pointer_is_named_after_the_scenario_file() -> None:
    base = S3Location("b", "nightly")
    assert str(latest_location(base, "test_data/scenarios/nightly.json")) == "s3://b/nightly/latest/nightly.json"
    assert str(latest_location(base, "smoke")) == "s3://b/nightly/latest/smoke.json"


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("PERF_RESULTS_URL", "/tmp/results", "is not an s3:// URL"),
    ("PERF_S3_ENDPOINT", "localhost:9000", "give the S3 API's URL"),
    ("PERF_S3_ENDPOINT", "http://key:secret@localhost:9000", "no credentials in the URL"),
    ("PERF_S3_TIMEOUT", "inf", "PERF_S3_TIMEOUT"),
    ("PERF_S3_MULTIPART_MB", "1", "PERF_S3_MULTIPART_MB"),
    ("PERF_UPLOAD_REQUIRED", "maybe", "PERF_UPLOAD_REQUIRED"),
])  # fmt: skip
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                        message: str) -> None:  # fmt: skip
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        load_storage_settings()


def test_a_bad_results_url_fails_before_anything_runs(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PERF_RESULTS_URL", "results-bucket/nightly")
    with pytest.raises(ConfigurationError, match="PERF_RESULTS_URL 'results-bucket/nightly' is not an s3:// URL"):
        PerfSession(scenario="smoke.json", results_dir=tmp_path / "r", console_logging=False)
    assert not (tmp_path / "r").exists()


def test_no_results_url_means_no_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERF_RESULTS_URL", raising=False)
    assert load_storage_settings().results_url is None
