"""A Prometheus of one's own on loopback (Debian's ``prometheus`` binary), for tests and local stacks.

``LocalPrometheus`` writes a scrape config whose targets come from a file (``file_sd_configs``, re-read by
Prometheus as it changes), so targets started later can be added with ``add_target``; starts the binary on
a free loopback port in its own process group, waits for ``/-/ready`` and stops it. ``basic_auth_hash``
puts a web config in front of the API (every request without those credentials gets 401).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from perf_tests.errors import TargetError

__all__ = ["LocalPrometheus", "free_port"]

START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (used when no port is given)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPrometheus:
    """One Prometheus process scraping file-listed targets every ``scrape_interval`` seconds."""

    def __init__(self, folder: Path, scrape_interval: float = 1.0, binary: str = "prometheus",
                 basic_auth_hash: str | None = None, port: int = 0) -> None:
        self.folder = folder
        self.scrape_interval = scrape_interval
        self.binary = shutil.which(binary) or binary
        self.basic_auth_hash = basic_auth_hash
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.targets: dict[str, list[str]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "prometheus.log"

    def add_target(self, job: str, address: str) -> None:
        """Scrape ``address`` (``host:port``, path ``/metrics``) as ``job`` from now on."""
        self.targets.setdefault(job, []).append(address)
        self.folder.mkdir(parents=True, exist_ok=True)
        groups = [{"targets": addresses, "labels": {"job": name}} for name, addresses in self.targets.items()]
        scratch = self.folder / "targets.json.tmp"
        scratch.write_text(json.dumps(groups), encoding="utf-8")
        scratch.replace(self.folder / "targets.json")  # atomic: Prometheus never reads half a file

    def start(self) -> LocalPrometheus:
        """Start it and wait until it is ready (``TargetError`` with its log otherwise)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / "targets.json").exists():
            (self.folder / "targets.json").write_text("[]", encoding="utf-8")
        interval = f"{max(1, round(self.scrape_interval * 1000))}ms"
        config = (f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
                  f"scrape_configs:\n  - job_name: files\n    file_sd_configs:\n"
                  f"      - files: ['{self.folder / 'targets.json'}']\n        refresh_interval: 1s\n")
        (self.folder / "prometheus.yml").write_text(config, encoding="utf-8")
        self.port = self.port or free_port()
        argv = [self.binary, f"--config.file={self.folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.folder / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn"]
        if self.basic_auth_hash:
            web = self.folder / "web.yml"
            web.write_text(f"basic_auth_users:\n  perf: {self.basic_auth_hash}\n", encoding="utf-8")
            argv.append(f"--web.config.file={web}")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2):
                    return self
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # behind basic auth: it answers, so it is up
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        self.stop()
        raise TargetError(f"prometheus did not become ready within {START_TIMEOUT:g}s; its log:\n{tail}")

    def stop(self) -> None:
        """Stop its process group (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
