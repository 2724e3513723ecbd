"""Where a create_run / get_run call's time goes, client and server side (``bench_many_runs.py --trace``).

Both processes time with ``time.monotonic`` (CLOCK_MONOTONIC on Linux: one clock for every process of
the machine, the runner's clock too), so one call's client and server timestamps line up. Instrumentation
only, for the bench:

- server (``serve``): aiohttp's ``RequestHandler.data_received`` notes when a request's first bytes were
  read from the socket; ``KfpSimulatorApp._api`` notes handler start and end (what ``service_ms`` times)
  and sends the three as a response header; ``finish_response`` notes when the answer was written (kept
  in the server process, dumped at exit as "answer built -> written" per route);
- client (``install_client``): ``RunApi.get``/``create`` are wrapped; aiohttp's trace hooks note request
  start and headers (and body) sent; ``ResponseHandler.data_received`` notes when the answer's bytes
  were read from the socket; the wrapper notes response headers resumed, body read, JSON parsed.

``summarize`` turns the per-call records into p50s of each segment.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

pc = time.monotonic
HEADER = "X-Perf-Trace"

# -- server side -----------------------------------------------------------------------------------


def serve(argv: list[str], dump: Path) -> int:
    """``python -m perf_tests.server`` with the server-side probes in place."""
    from aiohttp import web_protocol

    from perf_tests.server import app as app_module
    from perf_tests.server.__main__ import main

    written: dict[str, list[float]] = {}
    first_read: dict[int, float] = {}  # id(protocol) -> when the current request's first bytes were read
    received = web_protocol.RequestHandler.data_received

    def data_received(self: Any, data: bytes) -> None:
        first_read.setdefault(id(self), pc())
        received(self, data)

    finish = web_protocol.RequestHandler.finish_response

    async def finish_response(self: Any, request: Any, resp: Any, start_time: Any) -> Any:
        result = await finish(self, request, resp, start_time)
        end = ends.pop(id(resp), None)
        if end is not None:
            written.setdefault(end[1], []).append(pc() - end[0])
        first_read.pop(id(self), None)
        return result

    api = app_module.KfpSimulatorApp._api
    ends: dict[int, tuple[float, str]] = {}  # id(response) -> (answer built, route)

    async def traced_api(self: Any, request: Any, path: str) -> Any:
        started = pc()
        response = await api(self, request, path)
        ended = pc()
        recv = first_read.get(id(request._protocol), started)
        response.headers[HEADER] = f"{recv:.7f},{started:.7f},{ended:.7f}"
        route, _, _ = self._router.match(request.method, path)
        ends[id(response)] = (ended, route.name if route is not None else "unmatched")
        return response

    web_protocol.RequestHandler.data_received = data_received  # type: ignore[method-assign]
    web_protocol.RequestHandler.finish_response = finish_response  # type: ignore[method-assign]
    app_module.KfpSimulatorApp._api = traced_api  # type: ignore[method-assign]

    def dump_written() -> None:
        dump.write_text(json.dumps({route: _p50(values) for route, values in written.items()}))

    atexit.register(dump_written)
    return main(argv)


# -- client side -----------------------------------------------------------------------------------

CALLS: list[dict[str, Any]] = []


def install_client() -> None:
    """Wrap ``RunApi.get``/``create`` (this checkout's) and aiohttp's client protocol with the probes."""
    import aiohttp
    from aiohttp import client_proto

    from perf_tests.load import http
    from perf_tests.runners import run_status

    received = client_proto.ResponseHandler.data_received
    reads: dict[int, list[float]] = {}  # id(protocol) -> [first, last] read of the answer under way

    def data_received(self: Any, data: bytes) -> None:
        now = pc()
        seen = reads.get(id(self))
        if seen is None:
            reads[id(self)] = [now, now]
        else:
            seen[1] = now
        received(self, data)

    client_proto.ResponseHandler.data_received = data_received  # type: ignore[method-assign]

    marks: dict[Any, dict[str, float]] = {}

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        marks.setdefault(asyncio.current_task(), {})["request_start"] = pc()

    async def on_headers(session: Any, ctx: Any, params: Any) -> None:
        marks.setdefault(asyncio.current_task(), {})["headers_sent"] = pc()

    async def on_chunk(session: Any, ctx: Any, params: Any) -> None:
        marks.setdefault(asyncio.current_task(), {})["body_sent"] = pc()

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    trace.on_request_headers_sent.append(on_headers)
    trace.on_request_chunk_sent.append(on_chunk)
    trace.freeze()
    open_session = http.open_session

    def traced_session(**kwargs: Any) -> Any:
        session = open_session(**kwargs)
        session._trace_configs.append(trace)
        return session

    http.open_session = traced_session  # kfp_session looks it up at call time

    def traced(op: str, url_of: Any, send: Any, model: Any) -> Any:
        async def call(self: Any, arg: Any, exchange: Any = None) -> Any:
            task = asyncio.current_task()
            marks[task] = {}
            t0 = pc()
            async with send(self, arg) as response:
                resumed = pc()
                protocol = response._protocol
                body = await response.read()
                read = pc()
                server = response.headers.get(HEADER)
                status, reason = response.status, response.reason
            first, last = reads.pop(id(protocol), (None, None))
            if exchange is not None:  # as RunApi fills it in (its stamps are these reads)
                exchange.sent_at, exchange.read_at = t0, last if last is not None else read
            result = run_status._polled(status, reason, body, model)
            parsed = pc()
            record = {"op": op, "t0": t0, **marks.pop(task, {}), "recv_first": first, "recv_last": last,
                      "resumed": resumed, "read": read, "parsed": parsed, "bytes": len(body)}
            if server:
                record["s_recv"], record["s_start"], record["s_end"] = map(float, server.split(","))
            CALLS.append(record)
            return result

        return call

    api = run_status.RunApi
    api.get = traced(  # type: ignore[method-assign]
        "get_run", None, lambda self, run_id: self._session.get(f"{self._runs_text}/{run_id}", allow_redirects=False),
        run_status.PolledRun)
    from aiohttp.payload import BytesPayload

    api.create = traced(  # type: ignore[method-assign]
        "create_run", None,
        lambda self, body: self._session.post(self._runs, data=BytesPayload(body, content_type="application/json"),
                                              allow_redirects=False),
        run_status.CreatedRun)


SEGMENTS = (
    ("client: call to request start (aiohttp set-up)", "t0", "request_start"),
    ("client: request start to headers written", "request_start", "headers_sent"),
    ("client: headers written to body written", "headers_sent", "body_sent"),
    ("wire + server wake: last byte written to server read", "sent", "s_recv"),
    ("server: read to handler (HTTP parse, dispatch)", "s_recv", "s_start"),
    ("server: handler (service_ms)", "s_start", "s_end"),
    ("wire + client wake: answer built to client read (incl. server write)", "s_end", "recv_first"),
    ("client: bytes read to task resumed (loop lag, header parse)", "recv_first", "resumed"),
    ("client: resumed to body read", "resumed", "read"),
    ("client: JSON parse into the model", "read", "parsed"),
)


def _p50(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def summarize(calls: list[dict[str, Any]], skip_until: float = 0.0) -> dict[str, Any]:
    """Per operation, p50 (ms) of each segment and of the wholes."""
    out: dict[str, Any] = {}
    for op in ("create_run", "get_run"):
        rows = [c for c in calls if c["op"] == op and c["t0"] >= skip_until and "s_recv" in c]
        for row in rows:
            row["sent"] = row.get("body_sent", row.get("headers_sent", row["t0"]))
            row.setdefault("body_sent", row.get("headers_sent", row["t0"]))
        seg = {name: _p50([(r[b] - r[a]) * 1000 for r in rows if a in r and b in r]) for name, a, b in SEGMENTS}
        wholes = {
            "call to parsed (what the runner records now)": ("t0", "parsed"),
            "call to body read (no parse)": ("t0", "read"),
            "call to bytes read (handed to aiohttp -> last byte read)": ("t0", "recv_last"),
            "request start to bytes read": ("request_start", "recv_last"),
            "headers written to bytes read (k6-like: sending+waiting+receiving)": ("headers_sent", "recv_last"),
            "server: read to answer built (handler-level whole)": ("s_recv", "s_end"),
            "service_ms": ("s_start", "s_end"),
        }
        whole = {name: _p50([(r[b] - r[a]) * 1000 for r in rows]) for name, (a, b) in wholes.items()}
        # Per call: the server's side with its own queue (request written -> answer built: wire in, waiting for
        # the server's loop while it serves other requests, parse, handler), and what is left of the recorded
        # latency (handed to aiohttp -> last byte read) outside it: aiohttp's set-up and write, server write,
        # wire out.
        whole["server side incl. its queue (request written -> answer built)"] = _p50(
            [(r["s_end"] - r["sent"]) * 1000 for r in rows if r.get("recv_last")])
        whole["recorded latency outside the server side"] = _p50(
            [((r["recv_last"] - r["t0"]) - (r["s_end"] - r["sent"])) * 1000 for r in rows if r.get("recv_last")])
        out[op] = {"n": len(rows), "segments_p50_ms": seg, "wholes_p50_ms": whole,
                   "bytes_p50": _p50([r["bytes"] for r in rows])}
    return out


def dump_client(path: Path) -> None:
    path.write_text(json.dumps(CALLS))


if __name__ == "__main__":  # python bench/run_call_trace.py DUMP -- simulator arguments
    sys.path.insert(0, os.environ.get("PYTHONPATH", ""))
    sys.exit(serve(sys.argv[3:], Path(sys.argv[1])))
