"""RFC 3339 timestamps as protobuf JSON writes them (UTC, ``Z``, 0 or 3 fractional digits).

The KFP API server keeps ``...AtInSec`` integers and answers ``timestamppb.New(time.Unix(sec, 0))``
(``toApiRun`` in ``server/api_converter.go``), so its timestamps are whole seconds: the simulator stores
whole seconds (``timestamp_precision="seconds"``, the default) and renders run times with
:func:`format_ts_whole`; ``"milliseconds"`` keeps the fraction for tests whose runs last 0.2 s.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

__all__ = ["EPOCH", "format_ts", "format_ts_whole", "parse_ts"]

EPOCH = "1970-01-01T00:00:00Z"
"""What the KFP API answers for an unset timestamp, e.g. ``finished_at`` of a running run."""


_WHOLE_SECONDS: dict[int, str] = {}
_CACHE_LIMIT = 65536


def format_ts(seconds: float) -> str:
    """Format epoch seconds with millisecond precision: ``2024-05-01T12:00:00.250Z``."""
    whole, millis = divmod(round(seconds * 1000), 1000)
    text = _WHOLE_SECONDS.get(whole)
    if text is None:
        # Timestamps of one test cluster in few seconds, and strftime is the slow part of rendering a run.
        if len(_WHOLE_SECONDS) >= _CACHE_LIMIT:
            _WHOLE_SECONDS.clear()
        text = _WHOLE_SECONDS[whole] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if millis:
        return f"{text}.{millis:03d}Z"
    return f"{text}Z"


def format_ts_whole(seconds: float) -> str:
    """Format epoch seconds without the fraction (dropped, as ``time.Unix(sec, 0)`` of a truncated value)."""
    return format_ts(math.floor(seconds))


def parse_ts(text: str) -> float:
    """Parse an RFC 3339 timestamp (``Z`` or an offset, any fraction) to epoch seconds.

    Raises:
        ValueError: ``text`` is not an RFC 3339 timestamp.
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
