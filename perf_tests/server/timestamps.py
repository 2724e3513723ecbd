"""RFC 3339 timestamps as the KFP API server writes them: whole seconds, UTC, ``Z``.

The store keeps ``...AtInSec`` integers and ``toApiRun`` (``server/api_converter.go``) answers
``timestamppb.New(time.Unix(sec, 0))``, which protobuf JSON writes without a fraction.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

__all__ = ["EPOCH", "format_ts", "parse_ts"]

EPOCH = "1970-01-01T00:00:00Z"
"""What the KFP API answers for an unset timestamp, e.g. ``finished_at`` of a running run."""


_WHOLE_SECONDS: dict[int, str] = {}
_CACHE_LIMIT = 65536


def format_ts(seconds: float) -> str:
    """Format epoch seconds as whole seconds (the fraction is dropped): ``2024-05-01T12:00:00Z``."""
    whole = math.floor(seconds)
    text = _WHOLE_SECONDS.get(whole)
    if text is None:
        # Timestamps of one test cluster in few seconds, and strftime is the slow part of rendering a run.
        if len(_WHOLE_SECONDS) >= _CACHE_LIMIT:
            _WHOLE_SECONDS.clear()
        text = _WHOLE_SECONDS[whole] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(whole))
    return text


def parse_ts(text: str) -> float:
    """Parse an RFC 3339 timestamp (``Z`` or an offset, any fraction) to epoch seconds.

    Raises:
        ValueError: ``text`` is not an RFC 3339 timestamp.
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
