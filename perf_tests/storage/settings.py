"""Settings of the results upload and of remote baselines, read from the environment when asked for.

Results storage (``StorageSettings``)
    ``PERF_RESULTS_URL``       ``s3://bucket/prefix``: after each run (an interrupted one too) its whole results
                               directory is uploaded to ``<prefix>/<run_id>/``, and, when the run finished,
                               ``<prefix>/latest/<scenario file name>`` points at it. Unset: nothing is uploaded.
    ``PERF_S3_ENDPOINT``       the S3 API's URL for S3-compatible stores (MinIO, Ceph, ...); unset: AWS.
    ``PERF_S3_REGION``         region to sign requests for (default: the AWS configuration's, else us-east-1).
    ``PERF_S3_TIMEOUT``        total seconds for each S3 call and each part of a multipart upload, retries
                               included (default 60, at most 3600).
    ``PERF_S3_RETRIES``        retries of a failed S3 call (default 3; botocore's standard retry mode).
    ``PERF_S3_MULTIPART_MB``   files of this many MiB or more go up in parts of this size (default 8, 5..5120).
    ``PERF_UPLOAD_REQUIRED``   a failed upload makes the run exit non-zero (default false: a warning only).

Credentials come only from the standard AWS places, read by boto3 itself: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_SHARED_CREDENTIALS_FILE``,
``AWS_CONFIG_FILE``, an instance or pod role. They are never logged, written to results or put in a message.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from perf_tests.errors import ConfigurationError
from perf_tests.logger.redaction import redact
from perf_tests.storage.location import S3Location

__all__ = ["StorageSettings", "load_storage_settings"]


class StorageSettings(BaseSettings):
    """The ``PERF_RESULTS_URL``, ``PERF_S3_*`` and ``PERF_UPLOAD_REQUIRED`` environment variables."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True,
                                      allow_inf_nan=False)  # fmt: skip

    results_url: S3Location | None = Field(default=None, validation_alias="PERF_RESULTS_URL")
    endpoint: str | None = Field(default=None, validation_alias="PERF_S3_ENDPOINT")
    region: str | None = Field(default=None, validation_alias="PERF_S3_REGION")
    timeout: float = Field(default=60.0, gt=0, le=3600, validation_alias="PERF_S3_TIMEOUT")
    retries: int = Field(default=3, ge=0, le=10, validation_alias="PERF_S3_RETRIES")
    multipart_mb: int = Field(default=8, ge=5, le=5120, validation_alias="PERF_S3_MULTIPART_MB")
    upload_required: bool = Field(default=False, validation_alias="PERF_UPLOAD_REQUIRED")

    @field_validator("results_url", "endpoint", "region", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("results_url", mode="before")
    @classmethod
    def _s3_url(cls, value: object) -> object:
        if isinstance(value, str):
            return S3Location.parse(value.strip(), "PERF_RESULTS_URL")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("give the S3 API's URL, e.g. http://127.0.0.1:9000 or https://s3.example.com")
        if parts.username or parts.password:
            raise ValueError("no credentials in the URL: they come from AWS_ACCESS_KEY_ID / AWS_PROFILE")
        return value.strip().rstrip("/")


def load_storage_settings() -> StorageSettings:
    """Read the storage settings; ConfigurationError naming the variable when one is invalid."""
    try:
        return StorageSettings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            field = StorageSettings.model_fields.get(name.lower())
            variable = str(field.validation_alias) if field is not None and field.validation_alias else name
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{variable}={redact(repr(err.get('input')))}: {message}")
        raise ConfigurationError("invalid environment setting: " + "; ".join(problems)) from None
