"""Loopback ports of a local stack: is one free, and is the server listening on it ours.

A server we start on a fixed port (``local-stack``'s 18000) must not be confused with one already there:
``port_in_use`` is checked before the start, and ``listener_in_group`` tells whether the socket listening
on the port belongs to our server's process group (from ``/proc/net/tcp*`` and the group's open file
descriptors), so the load never goes to a server we did not start.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

__all__ = ["listener_in_group", "port_in_use", "port_taken_message"]

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on ``host:port`` (binding it fails); connections in TIME_WAIT do not count."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def port_taken_message(what: str, host: str, port: int, another: str) -> str:
    """The error for a fixed port already taken: which port, how to see by what, and ``another`` (how to
    choose another port, e.g. "choose another with `... --vllm-port PORT`")."""
    return (f"cannot start {what} on {host}:{port}: the port is already in use by another server (not started by "
            f"this run; `ss -ltnp 'sport = :{port}'` shows which, e.g. one left from an earlier run). Stop it, or "
            f"{another}")


def _listening_inodes(port: int) -> set[str] | None:
    """Inodes of the sockets listening on ``port`` (any address); None when ``/proc/net`` cannot be read."""
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes if readable else None


def _group_pids(group: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{name}/stat").read_text(encoding="utf-8", errors="replace")
            if int(stat.rsplit(")", 1)[1].split()[2]) == group:  # field 5, after "pid (comm) state ppid"
                pids.append(int(name))
    return pids


def listener_in_group(port: int, group: int) -> bool | None:
    """Whether the socket listening on ``port`` is held by a process of process group ``group``; None when
    this machine does not say (no ``/proc``)."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return None
    if not inodes:
        return False
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in _group_pids(group):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                        return True
    return False
