"""How a scenario entry ended: the ``status`` of its ``finished`` mark and of its ``summary.json`` part."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DID_NOT_RUN", "EntryStatus"]


class EntryStatus(StrEnum):
    """A scenario entry's status (serialised as its value: ``"passed"``, ``"error"``, ...)."""

    PASSED = "passed"  # ran to its end (its verdict says whether its numbers passed)
    ERROR = "error"  # preparing or running it raised
    NOT_RUN = "not_run"  # stopped before its start time, or never reached
    HUNG = "hung"  # its work did not stop in time: its threads are still running
    INTERRUPTED = "interrupted"  # the run died before it finished (a summary rebuilt from events.jsonl)


DID_NOT_RUN = frozenset({EntryStatus.ERROR, EntryStatus.NOT_RUN, EntryStatus.HUNG})
"""Statuses whose entry fails its ``ran`` check."""
