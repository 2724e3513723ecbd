"""Finished runs' answers, rendered once and kept as bytes until the run changes.

A run that has ended renders the same JSON until something changes it (terminate, retry, archive,
delete, its experiment archived, a reset). :class:`~perf_tests.server.store.Store` owns one
:class:`RunAnswers` and drops a run's entry in each of those writes, so a kept answer is never stale
and serving it needs no look at the run's row: ``get_run`` is a dict lookup, and a page of runs reads
only run ids from the sort index (a covering index scan) and joins the kept bytes.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["RunAnswer", "RunAnswers"]


class RunAnswer(NamedTuple):
    """A run's JSON in three pieces: ``head`` (through ``storage_state``), the embedded ``pipeline_spec``
    (shared by every run of that spec, or None), and ``tail`` (its lifecycle and task details)."""

    head: bytes
    spec: bytes | None
    tail: bytes

    def parts(self) -> tuple[bytes, ...]:
        """The pieces to join, in order."""
        return (self.head, self.tail) if self.spec is None else (self.head, b',"pipeline_spec":', self.spec, self.tail)

    def body(self) -> bytes:
        """The whole answer."""
        return b"".join(self.parts())


class RunAnswers:
    """Answers of finished runs by run id; bounded (the oldest entries go first)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._items: dict[str, RunAnswer] = {}

    def get(self, run_id: str) -> RunAnswer | None:
        """The kept answer of a run, if any."""
        return self._items.get(run_id)

    def put(self, run_id: str, answer: RunAnswer) -> None:
        """Keep a finished run's answer."""
        items = self._items
        if len(items) >= self.capacity and run_id not in items:
            del items[next(iter(items))]
        items[run_id] = answer

    def discard(self, run_id: str) -> None:
        """Forget a run's answer (it changed or is gone)."""
        self._items.pop(run_id, None)

    def clear(self) -> None:
        """Forget every answer (many runs changed, or how answers are rendered did)."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
