"""One stack after the other: the expanded entries of a ``matrix`` that deploy stacks wait for each other.

The scenario loader tells each expanded entry with a stack which entry comes before it
(``LlmLoadFields.follow``); the runner ``wait``s for that entry's ``done`` before it deploys, and marks
itself ``done`` once its own stack is torn down (also when it failed or was stopped). The gates live for
one process, keyed by the test run's id and the entry's name.
"""

from __future__ import annotations

import threading

__all__ = ["StackSequence", "stack_sequence"]


class StackSequence:
    """Named one-shot gates: ``done(run, name)`` opens one, ``wait(run, name, cancel)`` waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[tuple[str, str], threading.Event] = {}

    def _gate(self, run_id: str, name: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault((run_id, name), threading.Event())

    def done(self, run_id: str, name: str) -> None:
        """Entry ``name`` has torn its stack down."""
        self._gate(run_id, name).set()

    def wait(self, run_id: str, name: str, cancel: threading.Event) -> bool:
        """Wait until entry ``name`` is done; False when ``cancel`` was set first."""
        gate = self._gate(run_id, name)
        while not gate.wait(0.2):
            if cancel.is_set():
                return False
        return True


stack_sequence = StackSequence()
"""The process's gates."""
