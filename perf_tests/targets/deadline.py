"""Total deadlines for blocking HTTP calls made with urllib3 (kfp, Kubernetes; any urllib3-based client).

urllib3's timeouts bound each socket operation, not a call: a server that sends one byte every 0.5 s
keeps a call with a 30 s read timeout (or ``Timeout(total=30)``, which is also applied per read) going
forever. A ``Deadline`` bounds the whole call. While it is the current deadline of a thread, every
connection of ``DEADLINE_POOL_CLASSES`` that thread sends a request on is registered with it; when it
expires, one watchdog thread shuts those sockets down, so the blocked read returns at once and the call
fails. ``DeadlinePoolManager`` gives each call a deadline of its own (unless one is already current) and
turns the failure into ``DeadlineExceeded``, a urllib3 ``ReadTimeoutError``, so clients and the recorder
count it as a timeout.

Two ways to use it:

- build the client on ``DeadlinePoolManager(default_seconds, ...)`` (``build_kfp_client`` does);
- or, for a pool manager a library built (the Kubernetes client), call ``install_deadline_pools`` on it
  and wrap each call, body reading included, in ``with Deadline(seconds, "what"):``, checking
  ``deadline.expired`` when it fails;
- for a client that is not urllib3-based (a Prometheus or S3 client, a raw socket), run the call under a
  ``Deadline`` and give it ``deadline.on_expiry(callback)`` that aborts the call (closes its socket or
  response); ``cancel_open_deadlines`` (an interrupt) runs those callbacks too.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, ReadTimeoutError

__all__ = [
    "DEADLINE_POOL_CLASSES",
    "Deadline",
    "DeadlineExceeded",
    "DeadlinePoolManager",
    "cancel_open_deadlines",
    "current_deadline",
    "install_deadline_pools",
]

logger = logging.getLogger(__name__)
_local = threading.local()
_ATTR = "_perf_tests_deadline"


class DeadlineExceeded(ReadTimeoutError):
    """A call did not finish within its total deadline (a urllib3 read timeout, for its callers)."""

    def __init__(self, what: str, seconds: float, setting: str = "", cancelled: str = "") -> None:
        self.what, self.seconds = what, seconds
        governed = f" ({setting})" if setting else ""
        message = (f"{what} was cut short: {cancelled}" if cancelled else
                   f"{what} did not finish within its total deadline of {seconds:g}s{governed}")
        self.pool = None  # type: ignore[assignment]  # no pool: the deadline, not a socket, timed out
        self.url = None
        self._message = message
        HTTPError.__init__(self, message)

    def __reduce__(self) -> Any:
        return (type(self), (self.what, self.seconds))


class Deadline:
    """A total time limit, started when created; ``with`` makes it the thread's current deadline."""

    def __init__(self, seconds: float, what: str = "the call", setting: str = "") -> None:
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a deadline needs a finite number of seconds above 0, not {seconds!r}")
        self.seconds = float(seconds)
        self.what = what
        self.setting = setting
        self.expires_at = time.monotonic() + self.seconds
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._callbacks: list[Callable[[], object]] = []
        self._expired = False
        self._closed = False
        self._cancelled = ""
        self._previous: list[Deadline | None] = []
        _WATCHDOG.add(self)

    @property
    def expired(self) -> bool:
        """True once the deadline has passed or it was cancelled (its connections are cut)."""
        return self._expired or time.monotonic() >= self.expires_at

    def remaining(self) -> float:
        """Seconds left (0 when expired)."""
        return max(0.0, self.expires_at - time.monotonic())

    def error(self) -> DeadlineExceeded:
        """The exception that says this deadline passed."""
        return DeadlineExceeded(self.what, self.seconds, self.setting, self._cancelled)

    def cancel(self, reason: str) -> None:
        """End the call now, as if its deadline had passed (``reason`` goes into the error)."""
        self._cancelled = self._cancelled or reason
        self._expire()

    def watch(self, connection: Any) -> None:
        """Register a connection: it is shut down when the deadline passes (at once if it has)."""
        with self._lock:
            if self._closed:
                return
            setattr(connection, _ATTR, self)
            self._connections.append(connection)
            expired = self._expired
        if expired:
            _shut_down(connection)

    def on_expiry(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` (from the watchdog thread) when the deadline passes or is cancelled; at once if it
        already has. For clients that are not urllib3-based: the callback aborts the call."""
        with self._lock:
            if self._closed:
                return
            self._callbacks.append(callback)
            expired = self._expired
        if expired:
            _run_callback(callback)

    def close(self) -> None:
        """The call is over: forget its connections and callbacks and never cut them."""
        with self._lock:
            self._closed = True
            self._connections.clear()
            self._callbacks.clear()

    @contextlib.contextmanager
    def active(self) -> Iterator[Deadline]:
        """Make this the thread's current deadline for the block, without closing it afterwards."""
        previous = current_deadline()
        _local.deadline = self
        try:
            yield self
        finally:
            _local.deadline = previous

    def __enter__(self) -> Deadline:
        self._previous.append(current_deadline())
        _local.deadline = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        _local.deadline = self._previous.pop() if self._previous else None
        self.close()

    def _expire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._expired = True
            connections = list(self._connections)
            callbacks = list(self._callbacks)
        for callback in callbacks:
            _run_callback(callback)
        for connection in connections:
            # A connection back in its pool and reused by a newer call belongs to that call's deadline.
            if getattr(connection, _ATTR, None) is self:
                _shut_down(connection)


def cancel_open_deadlines(reason: str) -> int:
    """Cut short every call now under way in any thread (e.g. the set-up calls when a run is interrupted);
    returns how many deadlines were open."""
    open_deadlines = _WATCHDOG.open_deadlines()
    for deadline in open_deadlines:
        deadline.cancel(reason)
    return len(open_deadlines)


def current_deadline() -> Deadline | None:
    """The deadline the calling thread's requests run under, if any."""
    deadline: Deadline | None = getattr(_local, "deadline", None)
    return deadline


def _run_callback(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:  # one client's odd state must not stop the others being cut
        logger.debug("a deadline callback failed", exc_info=True)


def _shut_down(connection: Any) -> None:
    """Unblock a pending read on the connection's socket (thread-safe: only the fd is shut down)."""
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError, ValueError):
        # socket.socket.shutdown, not SSLSocket.shutdown: the latter tears down the TLS object under the
        # feet of the reading thread; shutting down the fd makes the read return end-of-file.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that expires deadlines in time order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.expires_at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="deadline-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:
                self._cond.notify()

    def open_deadlines(self) -> list[Deadline]:
        with self._cond:
            return [entry[2] for entry in self._heap if not entry[2]._closed]

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2]._closed:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._cond.wait()
                        continue
                    left = self._heap[0][0] - time.monotonic()
                    if left <= 0:
                        due = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(left)
            try:
                due._expire()
            except Exception:  # the watchdog must outlive any one connection's odd state
                logger.debug("expiring a deadline failed", exc_info=True)


_WATCHDOG = _Watchdog()


class _DeadlineHTTPConnection(HTTPConnection):
    """An HTTP connection that registers itself with the sending thread's current deadline."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = current_deadline()
        if deadline is not None:
            deadline.watch(self)
        super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(HTTPSConnection):
    """The HTTPS form of ``_DeadlineHTTPConnection``."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = current_deadline()
        if deadline is not None:
            deadline.watch(self)
        super().request(*args, **kwargs)


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


DEADLINE_POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {
    "http": _DeadlineHTTPConnectionPool,
    "https": _DeadlineHTTPSConnectionPool,
}


def install_deadline_pools(pool_manager: urllib3.PoolManager) -> None:
    """Make a pool manager someone else built use connections that honour ``Deadline``."""
    pool_manager.clear()
    pool_manager.pool_classes_by_scheme = DEADLINE_POOL_CLASSES


class DeadlinePoolManager(urllib3.PoolManager):
    """A pool manager whose every call has a total deadline and a connect timeout, and never retries.

    A call under a current ``Deadline`` uses that one; any other gets ``default_seconds`` of its own.
    ``setting`` names the setting that governs the deadline, for the error message.
    """

    def __init__(self, default_seconds: float, connect_seconds: float = 10.0, setting: str = "",
                 **kwargs: Any) -> None:
        kwargs["retries"] = False
        super().__init__(**kwargs)
        self.pool_classes_by_scheme = DEADLINE_POOL_CLASSES
        self.default_seconds = default_seconds
        self.connect_seconds = connect_seconds
        self.setting = setting

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> Any:  # type: ignore[override]
        current = current_deadline()
        deadline = current or Deadline(self.default_seconds, f"{method} {urlsplit(url).path or '/'}",
                                       self.setting)
        try:
            left = deadline.remaining()
            if left <= 0:
                raise deadline.error()
            if kw.get("timeout") is None:
                kw["timeout"] = urllib3.Timeout(connect=min(self.connect_seconds, left), read=left)
            kw["retries"] = False  # a measured call is sent once; what failed is recorded, not repeated
            with deadline.active():
                return super().urlopen(method, url, redirect=redirect, **kw)
        except DeadlineExceeded:
            raise
        except Exception as exc:
            if deadline.expired:
                raise deadline.error() from exc
            raise
        finally:
            if current is None:
                deadline.close()
