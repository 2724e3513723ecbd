"""Results upload and remote baselines against a real S3 API on loopback (moto in server mode).

Full runs are ``PerfSession`` runs of a one-second RANDOM_GETS entry against the session's embedded KFP
simulator (as a cluster target: ``API_HOST``), uploaded to a bucket of the test's own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from perf_tests.cli import main
from perf_tests.errors import StorageError
from perf_tests.session.session import CompletedRun, PerfSession
from perf_tests.storage import ResultsUploader, S3Location, load_storage_settings, open_store, upload_results
from tests.integration.storage.tcp_proxy import TcpProxy
from tests.trickle_server import TrickleServer

ENTRY = {"mode": "RANDOM_GETS", "name": "gets", "startTime": 0, "runTime": "1s", "rate": 5,
         "endpoints": {"list_runs": 1, "healthz": 1}}


@pytest.fixture
def kfp_env(kfp_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_HOST", "127.0.0.1")
    monkeypatch.setenv("API_PORT", str(kfp_server.port))
    monkeypatch.delenv("PERF_RESULTS_DIR", raising=False)


def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "nightly.json"
    path.write_text(json.dumps([ENTRY]), encoding="utf-8")
    return path


def run(tmp_path: Path, name: str, interrupted: bool = False, baseline: str | None = None) -> CompletedRun:
    session = PerfSession(scenario=scenario_file(tmp_path), results_dir=tmp_path / name, console_logging=False,
                          baseline=baseline)  # fmt: skip
    if interrupted:
        session.abort.set()  # as a Ctrl-C right at the start: the run stops at once and writes what it has
    return session.run()


def keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents") or []
    return sorted(item["Key"] for item in listed)


def local_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_runs_upload_latest_moves_only_when_finished_and_baselines_come_back(
    s3_env: Any, bucket: str, kfp_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PERF_RESULTS_URL", f"s3://{bucket}/nightly")
    client = s3_env.client()

    first = run(tmp_path, "first")
    assert first.passed, first.failure_message()
    assert first.upload is not None and first.upload.ok, first.upload
    assert first.upload.latest == f"s3://{bucket}/nightly/latest/nightly.json"
    uploaded = keys(client, bucket, f"nightly/{first.run_id}/")
    assert {key.split("/", 2)[2] for key in uploaded} >= {"summary.json", "run.json", "report.html", "events.jsonl"}
    summary_object = client.get_object(Bucket=bucket, Key=f"nightly/{first.run_id}/summary.json")["Body"].read()
    assert summary_object == (first.results_dir / "summary.json").read_bytes()
    pointer = json.loads(client.get_object(Bucket=bucket, Key="nightly/latest/nightly.json")["Body"].read())
    assert pointer["run_id"] == first.run_id
    assert pointer["summary"] == f"s3://{bucket}/nightly/{first.run_id}/summary.json"

    # An interrupted run is uploaded too, but does not become the latest.
    second = run(tmp_path, "second", interrupted=True)
    assert second.interrupted
    assert second.upload is not None and second.upload.ok, second.upload
    assert second.upload.latest is None
    assert f"nightly/{second.run_id}/summary.json" in keys(client, bucket, f"nightly/{second.run_id}/")
    pointer = json.loads(client.get_object(Bucket=bucket, Key="nightly/latest/nightly.json")["Body"].read())
    assert pointer["run_id"] == first.run_id, "an interrupted run never moves the pointer"
    assert local_files(second.results_dir), "the local copy stays"

    # Baselines from S3: the latest finished run of this scenario file, or a run id.
    latest = PerfSession(scenario=scenario_file(tmp_path), results_dir=tmp_path / "x", console_logging=False,
                         baseline=f"s3://{bucket}/nightly/latest")  # fmt: skip
    assert latest.baseline is not None and latest.baseline.summary.run_id == first.run_id
    by_id = PerfSession(scenario=scenario_file(tmp_path), results_dir=tmp_path / "y", console_logging=False,
                        baseline=f"s3://{bucket}/nightly/{second.run_id}")  # fmt: skip
    assert by_id.baseline is not None and by_id.baseline.summary.run_id == second.run_id

    # compare and report take the same URLs.
    capsys.readouterr()
    code = main(["compare", f"s3://{bucket}/nightly/latest", f"s3://{bucket}/nightly/{second.run_id}/summary.json"])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    assert f"baseline {first.run_id}" in out.out and f"run {second.run_id}" in out.out
    assert main(["report", f"s3://{bucket}/nightly/latest/nightly.json", "--download-dir", str(tmp_path / "dl")]) == 0
    downloaded = tmp_path / "dl" / first.run_id
    assert (downloaded / "report.html").is_file() and (downloaded / "events.jsonl").is_file()
    assert json.loads((downloaded / "summary.json").read_text())["run_id"] == first.run_id

    # No credential in anything uploaded, written or logged.
    for key in keys(client, bucket):
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert s3_env.secret_key.encode() not in body, key
    for folder in (first.results_dir, second.results_dir):
        for path in folder.rglob("*"):
            if path.is_file():
                assert s3_env.secret_key not in path.read_text(errors="replace"), path


def small_results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    (folder / "entry").mkdir(parents=True)
    (folder / "summary.json").write_text('{"run_id": "r1"}', encoding="utf-8")
    (folder / "events.jsonl").write_text('{"type": "op"}\n' * 100, encoding="utf-8")
    (folder / "entry" / "guidellm.json").write_text("{}", encoding="utf-8")
    return folder


def uploader(url: str) -> ResultsUploader:
    found = ResultsUploader.from_environment() if url == "" else None
    if found is not None:
        return found
    settings = load_storage_settings()
    return ResultsUploader(settings, S3Location.parse(url))


@pytest.mark.parametrize("wrong", ["secret", "key id"])
def test_wrong_credentials_are_one_clear_warning_without_the_secret(
    s3_env: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    wrong: str,
) -> None:
    bad_secret = f"wrong-secret-{uuid.uuid4().hex}"
    if wrong == "secret":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", bad_secret)
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOSUCHKEY0000000")
    folder = small_results(tmp_path)
    before = local_files(folder)
    with caplog.at_level(logging.INFO):
        outcome = uploader(f"s3://{bucket}/p").upload(folder, "r1", "nightly.json", finished=True, passed=True)
    assert not outcome.ok
    code = "SignatureDoesNotMatch" if wrong == "secret" else "InvalidAccessKeyId"
    assert f"rejected the credentials ({code}" in str(outcome.error)
    assert "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" in str(outcome.error)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert code in warning.getMessage() and str(folder) in warning.getMessage()
    for text in (str(outcome.error), caplog.text):
        assert bad_secret not in text
        assert s3_env.secret_key not in text
    assert local_files(folder) == before
    assert keys(s3_env.client(), bucket) == []


def test_a_missing_bucket_says_so(s3_env: Any, tmp_path: Path) -> None:
    outcome = uploader(f"s3://perf-missing-{uuid.uuid4().hex[:8]}/p").upload(
        small_results(tmp_path), "r1", "nightly.json", finished=True, passed=True)
    assert not outcome.ok
    assert "the bucket does not exist" in str(outcome.error)
    assert "NoSuchBucket" in str(outcome.error)


def test_the_endpoint_going_down_mid_upload_is_a_warning_and_keeps_everything_local(
    s3_env: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = small_results(tmp_path)
    before = local_files(folder)
    port = int(s3_env.url.rsplit(":", 1)[1])
    with TcpProxy(port) as proxy:
        monkeypatch.setenv("PERF_S3_ENDPOINT", proxy.url)
        store = open_store(load_storage_settings())
        try:
            outcome = upload_results(store, S3Location(bucket, "p"), folder, "r1", "nightly.json", finished=True,
                                     on_file=lambda name: proxy.cut())  # fmt: skip
        finally:
            store.close()
    assert outcome.uploaded_files == 1 and outcome.files == 3
    assert "cannot reach the S3 API" in str(outcome.error)
    assert outcome.latest is None
    assert keys(s3_env.client(), bucket) == ["p/r1/summary.json"], "the summary goes first; no pointer"
    assert local_files(folder) == before


def test_the_session_reports_a_failed_upload_and_fails_only_when_required(
    s3_env: Any, bucket: str, kfp_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PERF_RESULTS_URL", f"s3://{bucket}/nightly")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "definitely-not-the-secret")
    results = tmp_path / "required"
    monkeypatch.setenv("PERF_UPLOAD_REQUIRED", "true")
    code = main(["run", str(scenario_file(tmp_path)), "--results-dir", str(results)])
    err = capsys.readouterr().err
    assert code == 1
    assert "rejected the credentials (SignatureDoesNotMatch" in err
    assert "PERF_UPLOAD_REQUIRED=true" in err
    assert "definitely-not-the-secret" not in err
    assert (results / "summary.json").is_file()
    monkeypatch.setenv("PERF_UPLOAD_REQUIRED", "false")
    code = main(["run", str(scenario_file(tmp_path)), "--results-dir", str(tmp_path / "not-required")])
    err = capsys.readouterr().err
    assert code == 0, "the entry passed; a failed upload is a warning only"
    assert "rejected the credentials (SignatureDoesNotMatch" in err


def test_large_files_go_up_in_parts(s3_env: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_S3_MULTIPART_MB", "5")
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "events.jsonl").write_bytes(b"x" * (11 * 1024 * 1024))
    store = open_store(load_storage_settings())
    try:
        outcome = upload_results(store, S3Location(bucket, "big"), folder, "r1", "big.json", finished=False)
    finally:
        store.close()
    assert outcome.ok, outcome.error
    head = s3_env.client().head_object(Bucket=bucket, Key="big/r1/events.jsonl")
    assert head["ContentLength"] == 11 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-3"), "three parts of 5, 5 and 1 MiB"


def test_a_trickling_store_cannot_hold_a_call_past_its_deadline(
    s3_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    with TrickleServer(interval=0.2) as server:
        monkeypatch.setenv("PERF_S3_ENDPOINT", server.url)
        monkeypatch.setenv("PERF_S3_TIMEOUT", "1")
        monkeypatch.setenv("PERF_S3_RETRIES", "0")
        store = open_store(load_storage_settings())
        started = time.monotonic()
        try:
            with pytest.raises(StorageError, match=r"did not answer within 1s \(PERF_S3_TIMEOUT, a total deadline\)"):
                store.get_bytes(S3Location("perf-bucket", "p/summary.json"))
        finally:
            store.close()
        took = time.monotonic() - started
    assert took < 4, took


def test_a_baseline_that_is_not_there_is_one_clear_error(s3_env: Any, bucket: str, tmp_path: Path) -> None:
    from perf_tests.storage import fetch_summary

    with pytest.raises(StorageError, match=r"no finished run at s3://.*/latest/nightly.json"):
        fetch_summary(f"s3://{bucket}/nightly/latest", "baseline", "nightly.json")
    with pytest.raises(StorageError, match="no run has finished there yet"):
        fetch_summary(f"s3://{bucket}/nightly/latest", "baseline")
    with pytest.raises(StorageError, match=r"baseline s3://.*/nightly/20990101-000000-000/summary.json does not exist"):
        fetch_summary(f"s3://{bucket}/nightly/20990101-000000-000", "baseline")


def test_under_pytest_a_required_upload_that_fails_fails_the_session(
    s3_env: Any, bucket: str, kfp_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_performance.py's items all pass; only the upload fails, and PERF_UPLOAD_REQUIRED makes pytest exit 1."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PERF_RESULTS_URL=f"s3://{bucket}/ci", PERF_UPLOAD_REQUIRED="true",
               AWS_SECRET_ACCESS_KEY="not-the-secret-either", PERF_RESULTS_DIR=str(tmp_path / "results"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_performance.py",
                           "--scenario", str(scenario_file(tmp_path))], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:]
    assert "1 passed" in done.stdout
    assert "rejected the credentials (SignatureDoesNotMatch" in done.stdout
    assert "not-the-secret-either" not in done.stdout + done.stderr


def test_an_interrupt_during_the_upload_stops_it_and_leaves_the_pointer(s3_env: Any, bucket: str,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    folder = small_results(tmp_path)
    uploaded: list[str] = []
    store = open_store(load_storage_settings())
    try:
        outcome = upload_results(store, S3Location(bucket, "p"), folder, "r1", "nightly.json", finished=True,
                                 stop=lambda: bool(uploaded), on_file=uploaded.append)  # fmt: skip
    finally:
        store.close()
    assert uploaded == ["summary.json"]
    assert outcome.error == "interrupted during the upload"
    assert outcome.latest is None
    assert keys(s3_env.client(), bucket) == ["p/r1/summary.json"]
