"""Run the embedded KFP simulator standalone: ``python -m perf_tests.server --port 8888``.

Point any KFP client at the printed URL (``kfp.Client(host="http://127.0.0.1:8888")``); Ctrl-C stops
it. Every :class:`~perf_tests.server.config.SimulatorConfig` field can be set with ``--set key=value``
(repeatable) or a JSON object in ``--config``; the common ones also have their own options.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from perf_tests.config.logging_config import configure_logging
from perf_tests.config.settings import LoggingSettings
from perf_tests.server.config import SimulatorConfig
from perf_tests.server.embedded import EmbeddedKfpServer

__all__ = ["main", "parse_args"]

_SHORTCUTS: dict[str, tuple[str, type[Any], str]] = {
    "--task-seconds": ("task_seconds", float, "simulated time per pipeline task (default 1.0)"),
    "--run-duration": ("run_duration_seconds", float, "fixed run duration in seconds, instead of per task"),
    "--pending-seconds": ("pending_seconds", float, "time a run stays PENDING (default 0.5)"),
    "--failure-probability": ("run_failure_probability", float, "probability that a run ends FAILED"),
    "--latency-ms": ("latency_ms", float, "latency added to every API request"),
    "--jitter-ms": ("latency_jitter_ms", float, "extra uniform random latency, 0..N ms"),
    "--error-probability": ("error_probability", float, "probability of an HTTP 5xx answer"),
    "--drop-probability": ("drop_probability", float, "probability of closing the connection unanswered"),
    "--hang-probability": ("hang_probability", float, "probability of never answering"),
    "--seed": ("seed", int, "seed for simulated outcomes and faults"),
}


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, SimulatorConfig]:
    """Parse the command line into server options and a validated simulator configuration.

    Exits with status 2 and a message on invalid options, like any argparse error.
    """
    parser = argparse.ArgumentParser(
        prog="python -m perf_tests.server",
        description="Serve the KFP v2beta1 REST API from the embedded KFP simulator (no cluster, nothing runs).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8888, help="port to listen on; 0 picks a free one (default 8888)")
    parser.add_argument("--db", default=":memory:", help="SQLite file to keep state in (default: in memory)")
    parser.add_argument(
        "--event-loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="event loop (default auto)"
    )
    parser.add_argument(
        "--multi-user",
        action="store_true",
        help="behave like a Kubeflow profile deployment: kubeflow-userid header (or --set bearer_tokens=...) "
        "required (401), namespaces limited by namespace_access (403)",
    )
    for flag, (field, kind, text) in _SHORTCUTS.items():
        parser.add_argument(flag, dest=field, type=kind, default=None, help=text)
    parser.add_argument("--config", help="simulator settings as a JSON object")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any simulator setting, e.g. --set latency_spike_probability=0.01 (value parsed as JSON if it can be)",
    )
    parser.add_argument("--log-level", default=None, help="logging level (default: LOG_LEVEL, else INFO)")
    parser.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="also stop when standard input closes (how a parent process stops its child server)",
    )
    args = parser.parse_args(argv)

    values: dict[str, Any] = {}
    if args.config:
        try:
            loaded = json.loads(args.config)
        except ValueError as exc:
            parser.error(f"--config is not valid JSON: {exc}")
        if not isinstance(loaded, dict):
            parser.error("--config must be a JSON object")
        values.update(loaded)
    for item in args.settings:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        try:
            values[key.strip()] = json.loads(raw)
        except ValueError:
            values[key.strip()] = raw
    for field, _, _ in _SHORTCUTS.values():
        if getattr(args, field) is not None:
            values[field] = getattr(args, field)
    if args.multi_user:
        values["multi_user"] = True
    try:
        config = SimulatorConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        parser.error(f"invalid simulator settings: {problems}")
    return args, config


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM); return the exit status."""
    args, config = parse_args(argv)
    logging_settings = LoggingSettings()
    if args.log_level:
        level = args.log_level.strip().upper()
        if level not in logging.getLevelNamesMapping():
            print(f"unknown --log-level {args.log_level!r}; use DEBUG, INFO, WARNING or ERROR", file=sys.stderr)
            return 2
        logging_settings = logging_settings.model_copy(update={"log_level": level})
    configure_logging(logging_settings, log_dir=None)
    server = EmbeddedKfpServer(config, host=args.host, port=args.port, db_path=args.db, event_loop=args.event_loop)
    try:
        server.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    # Handle SIGINT ourselves too: a shell starts background jobs with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    if args.stop_on_stdin_eof:

        def stop_at_eof() -> None:
            sys.stdin.read()
            done.set()

        threading.Thread(target=stop_at_eof, name="stdin-eof", daemon=True).start()
    print(f"embedded KFP simulator (not a real KFP cluster) serving the KFP v2beta1 API at {server.url}", flush=True)
    print(f"  admin: {server.url}/_admin/info, /_admin/config, /_admin/stats   (Ctrl-C stops)", flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
