"""``s3://bucket/key`` locations: parsing with clear errors, and the keys of a run's uploaded results.

Layout under a ``PERF_RESULTS_URL`` of ``s3://bucket/prefix``::

    prefix/<run_id>/summary.json, run.json, report.html, events.jsonl, ...   (the results directory)
    prefix/latest/<scenario file name>                                      (a LatestPointer, JSON)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perf_tests.errors import ConfigurationError, echo

__all__ = ["LATEST", "S3Location", "is_s3_url"]

LATEST = "latest"
"""The folder of the pointers, and the word that names the latest finished run in a reference URL."""
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def is_s3_url(text: object) -> bool:
    """True for a string that starts with ``s3://``."""
    return isinstance(text, str) and text.strip().lower().startswith("s3://")


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key (or key prefix, without slashes at either end)."""

    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, text: str, what: str = "S3 URL") -> S3Location:
        """``s3://bucket[/key]``; ConfigurationError saying what is wrong (``what`` names the setting)."""
        if not is_s3_url(text):
            raise ConfigurationError(f"{what} {echo(text)} is not an s3:// URL; write s3://bucket/prefix")
        rest = text.strip()[len("s3://"):]
        bucket, _, key = rest.partition("/")
        if not _BUCKET.match(bucket) or ".." in bucket:
            raise ConfigurationError(
                f"{what} {echo(text)}: {echo(bucket)} is not a bucket name (3-63 characters: lower-case letters, "
                "digits, dots and hyphens); write s3://bucket/prefix"
            )
        key = "/".join(part for part in key.split("/") if part)
        return cls(bucket, key)

    def child(self, *parts: str) -> S3Location:
        """The location ``parts`` below this one."""
        return S3Location(self.bucket, "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/")))

    @property
    def name(self) -> str:
        """The last part of the key."""
        return self.key.rsplit("/", 1)[-1]

    @property
    def parent(self) -> S3Location:
        """The location one level up."""
        return S3Location(self.bucket, self.key.rsplit("/", 1)[0] if "/" in self.key else "")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"
