"""A hostile HTTP server on loopback that answers one byte at a time, slowly (a real socket server).

Every request is answered with a valid HTTP response sent one byte every ``interval`` seconds, so each
socket read succeeds well within any per-read timeout while the whole answer takes minutes: only a
total deadline ends such a call. Paths in ``fast`` are answered at once with their JSON body (e.g. the
KFP health endpoint, so that a run gets past target resolution into ``prepare``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import Any

__all__ = ["TrickleServer"]


class TrickleServer:
    """``with TrickleServer() as server:`` ... ``server.url``, ``server.port``, ``server.requests``."""

    def __init__(self, interval: float = 0.5, fast: dict[str, Any] | None = None, size: int = 100_000) -> None:
        self.interval = interval
        self.fast = dict(fast or {})
        self.size = size
        self.requests: list[str] = []  # "GET /path" of every request received
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="trickle-accept", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # unblocks accept() (close alone does not)
        self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), name="trickle-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                head = self._read_head(client)
                if head is None:
                    return
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                method, path = [*request_line.split(" "), "", ""][:2]
                with self._lock:
                    self.requests.append(f"{method} {path}")
                self._skip_body(client, head)
                bare = path.split("?", 1)[0]
                if bare in self.fast:
                    body = json.dumps(self.fast[bare]).encode()
                    client.sendall(self._response(body))
                    continue
                body = b"{" + b" " * max(0, self.size - 2) + b"}"
                for byte in self._response(body):
                    if self._stop.wait(self.interval):
                        return
                    client.sendall(bytes([byte]))
        except OSError:
            return

    @staticmethod
    def _response(body: bytes) -> bytes:
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body)

    @staticmethod
    def _read_head(client: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return None
            data += chunk
        return data

    @staticmethod
    def _skip_body(client: socket.socket, head: bytes) -> None:
        header, _, rest = head.partition(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        left = length - len(rest)
        while left > 0:
            chunk = client.recv(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)
