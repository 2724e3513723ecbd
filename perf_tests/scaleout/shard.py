"""Which part of a scenario one process runs: shard ``index`` of ``count``, from one shared start time."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from perf_tests.errors import ConfigurationError, echo

__all__ = ["DEFAULT_START_LEAD", "START_AT_TOLERANCE", "ShardSpec", "parse_shard", "parse_start_at", "split_count"]

DEFAULT_START_LEAD = 5.0
"""Seconds ahead of now the shared start time is set when none is given (workers start and prepare)."""

START_AT_TOLERANCE = 1.0
"""Seconds a shard may reach the shared start late by default (the time it takes to hand a ``--start-at`` to
a process): a later ``--start-at`` is refused, and a shard that starts later fails the merged verdict's
``shards_on_time`` check. Pods scheduled by a cluster get ``SCALE_OUT_START_TOLERANCE`` instead."""

_SHARD = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*$")


class ShardSpec(BaseModel):
    """Shard ``index`` of ``count`` (0-based), starting at ``start_at`` (epoch seconds) on every shard.

    ``run_id`` is the whole run's id (each shard's own id adds ``-shard<i>``); ``seed`` is shared by every
    shard so that random schedules (poisson) are the one schedule split, not N different ones;
    ``simulator_url`` is the embedded simulator the controller started for all shards (None: the
    configured target).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    count: int = Field(ge=1, le=100_000)
    start_at: float | None = Field(default=None, allow_inf_nan=False)
    run_id: str | None = None
    seed: int = 0
    simulator_url: str | None = None
    barrier: str | None = Field(default=None, description="A folder every shard can write: they meet there before "
                                "t0 (see FixedStartClock).")
    start_tolerance: float = Field(default=START_AT_TOLERANCE, ge=0, le=3600, allow_inf_nan=False,
                                   description="Seconds this shard may reach the shared start late (see "
                                   "START_AT_TOLERANCE).")
    upload: bool = Field(default=False, description="Upload this shard's results to PERF_RESULTS_URL's "
                         "<prefix>/<run_id>/shard-<i>/ (the pods of run --pods), for the controller to merge.")

    @model_validator(mode="after")
    def _index_below_count(self) -> ShardSpec:
        if self.index >= self.count:
            raise ValueError(f"shard index {self.index} is not below the shard count {self.count}")
        return self

    @property
    def label(self) -> str:
        """``i/N``, as given on the command line."""
        return f"{self.index}/{self.count}"

    def share(self, total: int) -> int:
        """This shard's part of ``total`` things (the remainder goes to the first shards)."""
        return split_count(total, self.index, self.count)


def split_count(total: int, index: int, count: int) -> int:
    """Shard ``index``'s part of ``total``: ``total // count``, plus one for the first ``total % count``."""
    return total // count + (1 if index < total % count else 0)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` as (i, N); ``ConfigurationError`` saying what is allowed."""
    match = _SHARD.match(text)
    if not match:
        raise ConfigurationError(f"--shard {echo(text)}: give the shard as INDEX/COUNT, e.g. 0/2 (0-based)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        raise ConfigurationError(f"--shard {echo(text)}: the index must be from 0 to COUNT-1 and COUNT at least 1")
    return index, count


def parse_start_at(text: str | None, lead: float = DEFAULT_START_LEAD, now: float | None = None,
                   tolerance: float = START_AT_TOLERANCE) -> float:
    """The shared start time: epoch seconds, ``+SECONDS`` from now, or ISO 8601; now + ``lead`` when None.

    A time more than ``tolerance`` before ``now`` (default: the wall clock) is a ``ConfigurationError``:
    the shard's entries would be over before it started (it would send next to nothing and pass).
    """
    now = time.time() if now is None else now
    if text is None or not text.strip():
        return now + lead
    value = text.strip()
    try:
        at = now + float(value[1:]) if value.startswith("+") else float(value)
    except ValueError:
        at = _iso_time(value)
    if not math.isfinite(at) or at <= 0:
        raise ConfigurationError(f"--start-at {echo(value)}: not a time")
    if at < now - tolerance:
        raise ConfigurationError(
            f"--start-at {echo(value)}: {_utc(at)} is {now - at:.1f}s before now ({_utc(now)}), more than the "
            f"{tolerance:g}s allowed (--start-tolerance); give a time ahead, the same for every shard (e.g. "
            "T=$(( $(date +%s) + 30 )) once, then --start-at $T); pods: a longer SCALE_OUT_START_LEAD")
    return at


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_time(value: str) -> float:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(f"--start-at {echo(value)}: give epoch seconds (1767225600.5), +SECONDS "
                                 "from now, or an ISO 8601 time with a zone (2026-12-02T10:00:00Z)") from None
    if parsed.tzinfo is None:
        raise ConfigurationError(f"--start-at {echo(value)}: an ISO time needs a zone, e.g. ...Z or +01:00 "
                                 "(every shard must read the same instant)")
    return parsed.timestamp()
