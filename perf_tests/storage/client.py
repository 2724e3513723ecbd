"""The S3 calls of the results upload and of remote baselines, each under a total deadline.

``S3Store`` wraps a boto3 S3 client: credentials from the standard AWS chain (environment, profile, role),
``PERF_S3_ENDPOINT`` for S3-compatible stores, botocore's standard retries (``PERF_S3_RETRIES``) and
multipart uploads through boto3's ``TransferConfig`` (``PERF_S3_MULTIPART_MB``). botocore's own timeouts
are per socket read; every call here, and every part of a multipart upload, also runs under a
``Deadline`` of ``PERF_S3_TIMEOUT`` seconds whose connections (botocore's urllib3 pools, made
deadline-aware) are cut when it passes, so a store that trickles cannot hold a run. Failures become
``StorageError`` messages that say what to do and never hold a credential (the secret key and session
token are registered for redaction when they are read).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from perf_tests.errors import StorageError
from perf_tests.logger.redaction import redact, register_secret
from perf_tests.storage.location import S3Location
from perf_tests.storage.settings import StorageSettings
from perf_tests.targets.deadline import Deadline, current_deadline

__all__ = ["S3Store", "StorageError"]

T = TypeVar("T")
logger = logging.getLogger(__name__)
_MIB = 1024 * 1024
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                     "InvalidClientTokenId", "AuthFailure", "TokenRefreshRequired"}  # fmt: skip


class S3Store:
    """S3 calls against one endpoint with the settings' credentials, retries and deadlines."""

    def __init__(self, settings: StorageSettings) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.settings = settings
        self.where = settings.endpoint or "AWS S3"
        session = boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            for secret in (frozen.secret_key, frozen.token):
                register_secret(secret)
        config = Config(
            retries={"max_attempts": settings.retries + 1, "mode": "standard"},
            connect_timeout=min(10.0, settings.timeout),
            read_timeout=settings.timeout,
            signature_version="s3v4",
            s3={"addressing_style": "path"} if settings.endpoint else {},
        )
        region = settings.region or session.region_name or "us-east-1"
        self._client: Any = session.client("s3", endpoint_url=settings.endpoint, region_name=region, config=config)
        _make_deadline_aware(self._client)
        chunk = settings.multipart_mb * _MIB
        # One thread: every part is sent from the calling thread, under that thread's deadline.
        self._transfer = TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk, use_threads=False)
        self._has_credentials = credentials is not None

    # -- calls ---------------------------------------------------------------------------------------------
    def upload_file(self, path: Path, target: S3Location) -> int:
        """Upload one file (in parts when large); its size in bytes."""
        size = path.stat().st_size
        parts = max(1, math.ceil(size / (self.settings.multipart_mb * _MIB)))
        self._call(f"upload {target}", self._client.upload_file, str(path), target.bucket, target.key,
                   Config=self._transfer, seconds=self.settings.timeout * parts)  # fmt: skip
        return size

    def put_bytes(self, data: bytes, target: S3Location, content_type: str = "application/json") -> None:
        """Write a small object in one call."""
        self._call(f"write {target}", self._client.put_object, Bucket=target.bucket, Key=target.key, Body=data,
                   ContentType=content_type)  # fmt: skip

    def get_bytes(self, source: S3Location, limit: int = 256 * _MIB) -> bytes:
        """Read a whole object (at most ``limit`` bytes); StorageError ``missing`` when it does not exist."""

        def read() -> bytes:
            response = self._client.get_object(Bucket=source.bucket, Key=source.key)
            body = response["Body"]
            try:
                data: bytes = body.read(limit + 1)
            finally:
                body.close()
            if len(data) > limit:
                raise StorageError(f"{source} is larger than {limit // _MIB} MiB; it is not a perf-tests results file")
            return data

        return self._call(f"read {source}", read)

    def list_keys(self, prefix: S3Location) -> Iterator[str]:
        """Keys below ``prefix`` (a folder: a trailing slash is added), in order."""
        folder = prefix.key + "/" if prefix.key else ""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": prefix.bucket, "Prefix": folder}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call(f"list {prefix}", self._client.list_objects_v2, **kwargs)
            for item in page.get("Contents") or []:
                yield str(item["Key"])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def download_file(self, source: S3Location, path: Path) -> None:
        """Download one object to ``path`` (its folder is created)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._call(f"download {source}", self._client.download_file, source.bucket, source.key, str(path),
                   Config=self._transfer, seconds=self.settings.timeout * 4)  # fmt: skip

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    # -- errors --------------------------------------------------------------------------------------------
    def _call(self, what: str, func: Callable[..., T], *args: Any, seconds: float | None = None, **kwargs: Any) -> T:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        deadline = Deadline(seconds or self.settings.timeout, what, "PERF_S3_TIMEOUT")
        outer = current_deadline()
        try:
            with deadline.active():
                return func(*args, **kwargs)
        except StorageError:
            raise
        except NoCredentialsError:
            raise StorageError(
                f"cannot {what}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "AWS_PROFILE (a profile in ~/.aws/credentials)"
            ) from None
        except ClientError as exc:
            raise self._client_error(exc, what) from None
        except (BotoCoreError, S3UploadFailedError, OSError) as exc:
            if deadline.expired or (outer is not None and outer.expired):
                raise StorageError(
                    f"cannot {what}: the S3 API at {self.where} did not answer within {deadline.seconds:g}s "
                    "(PERF_S3_TIMEOUT, a total deadline); check the endpoint and the network"
                ) from None
            nested = _client_error_in(exc)
            if nested is not None:
                raise self._client_error(nested, what) from None
            raise StorageError(
                f"cannot {what}: cannot reach the S3 API at {self.where} "
                f"({_short(type(exc).__name__ + ': ' + str(exc))}); check PERF_S3_ENDPOINT and that the store is up"
            ) from None
        finally:
            deadline.close()

    def _client_error(self, exc: Any, what: str) -> StorageError:
        error = exc.response.get("Error", {}) if hasattr(exc, "response") else {}
        code = str(error.get("Code") or "")
        message = _short(str(error.get("Message") or exc))
        metadata = exc.response.get("ResponseMetadata") or {} if hasattr(exc, "response") else {}
        status = metadata.get("HTTPStatusCode")
        if code in _CREDENTIAL_CODES:
            return StorageError(
                f"cannot {what}: the S3 API at {self.where} rejected the credentials ({code}: {message}); check "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the endpoint they belong to"
            )
        if code == "NoSuchBucket":
            return StorageError(
                f"cannot {what}: the bucket does not exist at {self.where} (NoSuchBucket); create it or fix the "
                "bucket in the s3:// URL (PERF_RESULTS_URL, --baseline)"
            )
        if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
            return StorageError(
                f"cannot {what}: access denied by the S3 API at {self.where} ({code or 'HTTP 403'}: {message}); the "
                "credentials need s3:PutObject, s3:GetObject and s3:ListBucket on the bucket"
            )
        if code in ("NoSuchKey", "404", "NotFound"):
            return StorageError(f"cannot {what}: no such object (NoSuchKey)", missing=True)
        return StorageError(f"cannot {what}: the S3 API at {self.where} answered {code or status}: {message}")


def _client_error_in(exc: BaseException) -> Any:
    """The ClientError a boto3 transfer error wraps (its cause or context), if any."""
    from botocore.exceptions import ClientError

    seen: BaseException | None = exc
    for _ in range(5):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if isinstance(seen, ClientError):
            return seen
    return None


def _short(text: str, limit: int = 300) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _watch(connection: Any) -> None:
    """Register ``connection`` with the thread's deadline; once that has passed, send nothing more (a retry
    would otherwise open a new connection that no one cuts)."""
    deadline = current_deadline()
    if deadline is None:
        return
    if deadline.expired:
        raise deadline.error()
    deadline.watch(connection)


def _make_deadline_aware(client: Any) -> None:
    """Make the client's urllib3 pools register each connection with the sending thread's deadline."""
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    class DeadlineHTTPConnection(AWSHTTPConnection):  # type: ignore[misc]
        def request(self, *args: Any, **kwargs: Any) -> Any:
            _watch(self)
            return super().request(*args, **kwargs)

    class DeadlineHTTPSConnection(AWSHTTPSConnection):  # type: ignore[misc]
        def request(self, *args: Any, **kwargs: Any) -> Any:
            _watch(self)
            return super().request(*args, **kwargs)

    class DeadlineHTTPConnectionPool(AWSHTTPConnectionPool):  # type: ignore[misc]
        ConnectionCls = DeadlineHTTPConnection

    class DeadlineHTTPSConnectionPool(AWSHTTPSConnectionPool):  # type: ignore[misc]
        ConnectionCls = DeadlineHTTPSConnection

    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    pools = getattr(session, "_pool_classes_by_scheme", None)
    if not isinstance(pools, dict):  # another botocore layout: the read timeout still applies per read
        logger.warning("botocore's HTTP session has no pool classes to make deadline-aware; S3 calls are bounded "
                       "per read only")
        return
    pools.update({"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool})
    manager = getattr(session, "_manager", None)
    if manager is not None:
        manager.clear()
