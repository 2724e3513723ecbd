"""A real S3 API on loopback: ``moto_server`` (moto in server mode) in a subprocess, once per session.

It enforces credentials like S3 does (``INITIAL_NO_AUTH_ACTION_COUNT``: the first three calls, which
create an IAM user with an S3 policy and its access key, are the only unauthenticated ones), so wrong
credentials are refused as S3 refuses them. Each test gets a bucket of its own and the standard AWS
environment variables pointing at the server; nothing from the machine's AWS configuration is read.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
_STARTUP_SECONDS = 60


@dataclass(frozen=True)
class MotoS3:
    """The running server and the credentials of its one IAM user."""

    url: str
    access_key: str
    secret_key: str

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)  # fmt: skip


def _moto_server_command() -> list[str]:
    # The module, not the console script: a script's interpreter line can point at a virtualenv that moved.
    if importlib.util.find_spec("moto.server") is None:
        pytest.fail("moto[server] is not installed: `make setup` installs it (the dev extra)")
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"]


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    process = subprocess.Popen(_moto_server_command(), env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    found: list[str] = []
    ready = threading.Event()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:  # werkzeug prints the address it bound (port 0: a free one)
            match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read_stderr, name="moto-stderr", daemon=True)
    reader.start()
    try:
        if not ready.wait(_STARTUP_SECONDS) or not found:
            raise RuntimeError(f"moto_server did not start within {_STARTUP_SECONDS}s")
        url = found[0]
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup",
                           aws_secret_access_key="setup")  # fmt: skip
        iam.create_user(UserName="perf-tests")
        iam.put_user_policy(UserName="perf-tests", PolicyName="s3", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="perf-tests")["AccessKey"]
        yield MotoS3(url, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=10)  # the pipe ends with the process
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture
def bucket(moto_s3: MotoS3) -> str:
    """A new, empty bucket."""
    name = f"perf-{uuid.uuid4().hex[:12]}"
    moto_s3.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_env(moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MotoS3:
    """The standard AWS variables (and PERF_S3_ENDPOINT) for the server; the machine's AWS files unused."""
    for name in [name for name in os.environ if name.startswith(("AWS_", "PERF_S3_", "PERF_RESULTS_URL",
                                                                 "PERF_UPLOAD", "PERF_BASELINE"))]:  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("PERF_S3_ENDPOINT", moto_s3.url)
    monkeypatch.setenv("PERF_S3_RETRIES", "1")
    return moto_s3
