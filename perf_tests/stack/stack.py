"""The stack interface: deploy a model server, wait until it is ready, tell its URL, tear it down.

Lifecycle, in order (``stop`` may also come from a signal handler's thread):

1. ``check()``: before anything is created: the tooling is there, the settings and files make sense.
2. ``start(cancel)``: create everything and wait until the server answers (at most ``readyTimeout``);
   returns the base URL to load. ``cancel`` set (Ctrl-C, the entry stopped) ends the wait at once with a
   ``RunnerError``; what was created so far is still torn down by ``stop``.
3. ``stop()``: delete exactly what ``start`` created (unless ``keep``), idempotent, also after a failed
   or cancelled ``start``.

``record`` (a ``StackRecord``) fills in as it goes: what was deployed, replicas' start-up times and the
readiness transitions.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from perf_tests.stack.options import StackOptions
from perf_tests.stack.record import StackRecord

__all__ = ["Stack"]


class Stack(ABC):
    """One deployed model server (see the module docstring for the lifecycle)."""

    def __init__(self, options: StackOptions, name: str) -> None:
        self.options = options
        self.name = name
        self.record: StackRecord | None = None

    @property
    @abstractmethod
    def url(self) -> str:
        """The base URL of the ready server ('' before ``start`` returned)."""

    def check(self) -> None:  # noqa: B027 - a hook: most stacks need no check
        """Fail early (``RunnerError``/``TargetError``) when the stack cannot be deployed here."""

    @abstractmethod
    def start(self, cancel: threading.Event | None = None) -> str:
        """Deploy and wait until ready; the base URL."""

    @abstractmethod
    def stop(self) -> None:
        """Tear down what ``start`` created (unless ``keep``); idempotent."""
