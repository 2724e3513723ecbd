"""Benchmarks of the load engine: throughput, open-loop accuracy, recording cost.

Run from the repository root (about 4 minutes on 2 idle cores, longer on a busy machine)::

    .venv/bin/python bench/bench_load_engine.py

Every server runs in its own process pinned to core 0 and every load generator in its own process
pinned to core 1 (``os.sched_setaffinity``), so the generator's single core is what is measured.

1. Closed loop, one core: our ``LoadEngine`` (``ConcurrentArrivals``, ``KfpGetsWorkload`` on
   ``get_run``, full recording) vs a bare aiohttp loop vs Locust ``FastHttpUser``, same concurrency,
   against (a) the embedded KFP simulator's ``GET /apis/v2beta1/runs/{id}`` and (b) a minimal
   asyncio HTTP server that answers a fixed body (so that the server is not the bottleneck).
   Goals: >= 1.0x Locust FastHttpUser, >= 0.85x raw aiohttp.
2. Open loop at 500, 2,000 and 5,000 requests/s against the minimal server: achieved rate and send
   lateness p50/p99/max. Goals: rate within 0.1%; p99 lateness <= 1 ms at 5,000/s with uvloop and
   <= 1.5 ms at 2,000/s with the default asyncio loop.
3. Recording: RSS growth over 10 million ``PerSecondAggregator.record`` calls (with lateness and latency
   values, a ``Recorder`` and an ``events.jsonl`` writer listening) and the HDR percentiles' error
   against numpy's exact ones. Goals: <= 20 MB, <= 0.1% at p99.

Needs the ``bench`` extra (locust, numpy, psutil). ``--quick`` shortens every phase (a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE = 0
CLIENT_CORE = 1
CONCURRENCY = 32
FIXED_BODY = b'{"runs":[{"run_id":"r1"}],"run_id":"r1","total_size":1}'


# -- helpers -----------------------------------------------------------------------------------------
NICE = 0  # --nice: priority change of every server and generator process (negative needs root)


def _pin(core: int) -> Callable[[], None]:
    def pin() -> None:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > core:
            os.sched_setaffinity(0, {core})
        if NICE:
            os.nice(NICE)

    return pin


def _self_command(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def _run_client(*args: str, timeout: float = 120.0) -> dict[str, Any]:
    """Run this script as a load-generator process pinned to the client core; its last line is JSON."""
    done = subprocess.run(
        _self_command(*args), capture_output=True, text=True, timeout=timeout, preexec_fn=_pin(CLIENT_CORE),
        cwd=ROOT, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"client {args} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@contextlib.contextmanager
def _server(kind: str) -> Iterator[dict[str, Any]]:
    """Start a server process pinned to the server core; yield its info (url, path, pid)."""
    process = subprocess.Popen(
        _self_command("--serve", kind), stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True,
        preexec_fn=_pin(SERVER_CORE), cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"server {kind} did not start")
        info = dict(json.loads(line))
        info["pid"] = process.pid
        yield info
    finally:
        with contextlib.suppress(Exception):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


# -- servers -----------------------------------------------------------------------------------------
def serve(kind: str) -> None:
    """Serve until stdin closes; print {"url": ..., "path": ...} first."""
    if kind == "minimal":
        _serve_minimal()
    else:
        _serve_kfp()


def _serve_minimal() -> None:
    import uvloop

    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(FIXED_BODY)).encode()
        + b"\r\n\r\n"
        + FIXED_BODY
    )

    class Http(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport  # uvloop's transports do not subclass asyncio.Transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            answers = self.buffer.count(b"\r\n\r\n")  # GETs only: no bodies
            if answers:
                self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4:]
                self.transport.write(response * answers)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Http, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"url": f"http://127.0.0.1:{port}", "path": "/apis/v2beta1/runs/r1"}), flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    uvloop.run(main())


def _serve_kfp() -> None:
    import urllib.request

    import yaml

    from perf_tests.server import EmbeddedKfpServer

    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return dict(json.loads(answer.read()))

    spec = yaml.safe_load((ROOT / "test_data/pipeline_files/add_numbers.yaml").read_text())
    with EmbeddedKfpServer(event_loop="uvloop") as server:
        api = server.url + "/apis/v2beta1"
        pipeline = post(api + "/pipelines/create", {
            "pipeline": {"display_name": "bench"},
            "pipeline_version": {"display_name": "v1", "pipeline_spec": spec},
        })
        run = post(api + "/runs", {
            "display_name": "bench-run", "pipeline_version_reference": {"pipeline_id": pipeline["pipeline_id"]},
        })
        print(json.dumps({"url": server.url, "path": f"/apis/v2beta1/runs/{run['run_id']}"}), flush=True)
        sys.stdin.read()


# -- load generators (each in its own process) -------------------------------------------------------
def client_engine(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """Closed loop with our engine: KfpGetsWorkload on get_run, PerSecondAggregator + Recorder listening."""
    import uvloop

    from perf_tests.load import ConcurrentArrivals, KfpGetsWorkload, LoadEngine, open_session
    from perf_tests.recorder import EventHook, PerSecondAggregator, Recorder

    async def main() -> dict[str, Any]:
        hook = EventHook()
        hook.add_listener(Recorder())
        recorder = PerSecondAggregator(hook, "bench", "BENCH")
        async with open_session(max_connections=concurrency, timeout=30) as session:
            workload = KfpGetsWorkload(session, url, {"get_run": 1})
            warm = LoadEngine(ConcurrentArrivals(concurrency, duration=1.0), workload, recorder,
                              max_concurrency=concurrency)
            await warm.run()
            cpu = time.process_time()
            engine = LoadEngine(ConcurrentArrivals(concurrency, duration=seconds), workload, recorder,
                                max_concurrency=concurrency)
            result = await engine.run()
            cpu = time.process_time() - cpu
        return {"requests": result.sent, "failed": result.failed, "seconds": result.elapsed, "cpu": cpu}

    return uvloop.run(main())


def client_raw(url: str, path: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """Closed loop with a bare aiohttp loop: the same session settings, no recording."""
    import aiohttp
    import uvloop

    async def main() -> dict[str, Any]:
        counts = {"requests": 0, "failed": 0}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
            target = url + path

            async def worker(deadline: float) -> None:
                while time.monotonic() < deadline:
                    async with session.get(target) as response:
                        await response.read()
                        counts["requests"] += 1
                        if response.status != 200:
                            counts["failed"] += 1

            warm = time.monotonic() + 1.0
            await asyncio.gather(*(worker(warm) for _ in range(concurrency)))
            counts.update(requests=0, failed=0)
            cpu = time.process_time()
            start = time.monotonic()
            await asyncio.gather(*(worker(start + seconds) for _ in range(concurrency)))
            elapsed = time.monotonic() - start
            cpu = time.process_time() - cpu
        return {**counts, "seconds": elapsed, "cpu": cpu}

    return uvloop.run(main())


LOCUSTFILE = """
import json, os, time

import gevent
from locust import FastHttpUser, constant, events, task

PATH = os.environ["BENCH_PATH"]
SECONDS = float(os.environ["BENCH_SECONDS"])


class Get(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get(PATH)


def measure(environment):
    gevent.sleep(1.0)  # warm-up, like the other clients
    stats = environment.stats.total
    begin = (time.process_time(), time.monotonic(), stats.num_requests, stats.num_failures)
    gevent.sleep(SECONDS)
    end = (time.process_time(), time.monotonic(), stats.num_requests, stats.num_failures)
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump({"requests": end[2] - begin[2], "failed": end[3] - begin[3], "seconds": end[1] - begin[1],
                   "cpu": end[0] - begin[0]}, out)
    environment.runner.quit()


@events.init.add_listener
def init(environment, **kwargs):
    events.spawning_complete.add_listener(lambda user_count, **kw: gevent.spawn(measure, environment))
"""


def client_locust(url: str, path: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """Closed loop with Locust FastHttpUser (headless, no wait time), measured inside Locust."""
    with tempfile.TemporaryDirectory() as folder:
        locustfile = Path(folder) / "locustfile.py"
        locustfile.write_text(LOCUSTFILE)
        out = Path(folder) / "result.json"
        command = [
            sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url,
            "-u", str(concurrency), "-r", str(concurrency * 10), "-t", f"{math.ceil(seconds) + 30}s",
            "--only-summary", "--loglevel", "ERROR", "--stop-timeout", "2",
        ]
        env = {**os.environ, "BENCH_PATH": path, "BENCH_SECONDS": str(seconds), "BENCH_OUT": str(out)}
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False,
                              cwd=folder, env=env)
        if not out.exists():
            raise RuntimeError(f"locust wrote no result:\n{done.stderr[-2000:]}")
        return dict(json.loads(out.read_text()))


def client_open(url: str, rate: float, seconds: float, loop_kind: str, spin: float) -> dict[str, Any]:
    """Open loop at ``rate``; lateness percentiles from the recorded histograms."""
    from perf_tests.load import ConstantArrivals, KfpGetsWorkload, LoadEngine, open_session
    from perf_tests.recorder import EventHook, PerSecondAggregator, Recorder

    async def main() -> dict[str, Any]:
        hook = EventHook()
        recorder_stats = Recorder()
        hook.add_listener(recorder_stats)
        recorder = PerSecondAggregator(hook, "bench", "BENCH")
        async with open_session(max_connections=1000, timeout=30) as session:
            workload = KfpGetsWorkload(session, url, {"get_run": 1})
            warm_recorder = PerSecondAggregator(EventHook(), "w", "W")
            warm = LoadEngine(ConstantArrivals(rate, duration=1.0), workload, warm_recorder)
            await warm.run()
            engine = LoadEngine(ConstantArrivals(rate, duration=seconds), workload, recorder, spin=spin)
            result = await engine.run()
        stats = recorder_stats.scenarios["bench"].operations["get_run"]
        lateness = stats.values["lateness"]
        return {
            "expected": ConstantArrivals(rate, duration=seconds).expected(seconds),
            "sent": result.sent,
            "dropped": result.dropped,
            "failed": result.failed,
            "send_rate": result.send_rate,
            "late_p50_ms": lateness.get_value_at_percentile(50) / 1000,
            "late_p99_ms": lateness.get_value_at_percentile(99) / 1000,
            "late_max_ms": lateness.get_max_value() / 1000,
            "service_p50_ms": stats.percentile_ms(50),
        }

    if loop_kind == "uvloop":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


ENDPOINTS = ("list_runs", "get_run", "list_experiments", "list_pipelines", "get_pipeline",
             "list_pipeline_versions", "healthz")


def client_record(operations: int) -> dict[str, Any]:
    """RSS growth and CPU time over ``operations`` record() calls; HDR percentile error against numpy.

    Seven operations in turn (RANDOM_GETS's endpoints) at a simulated 5,000 requests per second, each
    with lateness and latency values, one flush per simulated half second, a ``Recorder`` and an
    ``events.jsonl`` writer listening: what the engine does, without the network. The values cycle
    through a pool of a million samples made before the baseline, so that generating them does not
    count as recording memory; the pool's exact percentiles are those of the whole stream.
    """
    import numpy as np
    import psutil

    from perf_tests.recorder import EventHook, EventsFileWriter, PerSecondAggregator, Recorder
    from perf_tests.recorder.stats import new_histogram

    rate = 5000.0
    pool = 1_000_003  # prime: every operation gets every sample
    rng = np.random.default_rng(7)
    service_array = rng.lognormal(mean=np.log(0.004), sigma=0.6, size=pool)  # median 4 ms
    service = service_array.tolist()
    late = rng.exponential(0.0002, size=pool).tolist()
    repeats, rest = divmod(operations, pool)
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as folder:
        hook = EventHook()
        stats = Recorder()
        writer = EventsFileWriter(Path(folder) / "events.jsonl")
        hook.add_listener(stats)
        hook.add_listener(writer)
        recorder = PerSecondAggregator(hook, "bench", "BENCH")
        gc.collect()
        rss_before = process.memory_info().rss
        record = recorder.record
        names = ENDPOINTS
        start_wall = 1_700_000_000.0
        index = 0
        began = time.process_time()
        for count in [pool] * repeats + [rest]:
            for duration, lateness in itertools.islice(zip(service, late, strict=True), count):
                record(names[index % 7], start_wall + index / rate, duration, True, None, None,
                       {"lateness": lateness, "latency": duration + lateness})
                index += 1
                if index % 2500 == 0:
                    recorder.flush(before=start_wall + index / rate)
        recorder.flush()
        cpu = time.process_time() - began
        gc.collect()
        rss_after = process.memory_info().rss
        writer.close()
        lines = writer.lines
    merged = new_histogram()
    timeline = 0
    for operation in stats.scenarios["bench"].operations.values():
        merged.add(operation.histogram)
        timeline += len(operation.timeline)
    exact = np.concatenate([np.tile(service_array, repeats), service_array[:rest]]) * 1_000_000  # µs
    errors = {}
    for percentile in (50.0, 90.0, 99.0, 99.9):
        truth = float(np.percentile(exact, percentile, method="inverted_cdf"))
        hdr = float(merged.get_value_at_percentile(percentile))
        errors[f"p{percentile:g}"] = {"exact_ms": truth / 1000, "hdr_ms": hdr / 1000,
                                      "error_pct": abs(hdr - truth) / truth * 100}
    return {
        "operations": index,
        "recorded": merged.get_total_count(),
        "events_lines": lines,
        "timeline_entries": timeline,
        "cpu_seconds": cpu,
        "us_per_op": cpu / index * 1e6,
        "rss_growth_mb": (rss_after - rss_before) / 2**20,
        "percentiles": errors,
    }


# -- the benchmark -----------------------------------------------------------------------------------
def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def _median(values: list[float]) -> float:
    return statistics.median(values)


CLIENTS = (("engine", "LoadEngine"), ("raw", "raw aiohttp"), ("locust", "Locust FastHttpUser"))


def closed_loop(seconds: float, rounds: int) -> list[str]:
    lines = [f"### 1. Closed loop, one generator core, concurrency {CONCURRENCY}", ""]
    lines.append(f"Median of {rounds} interleaved rounds of {seconds:g} s (after 1 s of warm-up each). "
                 "`req/CPU-s` = requests per second of the generator's own CPU time, i.e. what one "
                 "fully used core does; it is robust to other processes stealing the core, `req/s` is not.")
    lines.append("")
    lines.append("| server | client | req/s | req/CPU-s | server CPU | LoadEngine ratio (CPU) | (wall) |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for kind, label in (("kfp", "KFP simulator GET run"), ("minimal", "minimal asyncio server")):
        with _server(kind) as info:
            samples: dict[str, list[dict[str, Any]]] = {client: [] for client, _ in CLIENTS}
            for round_index in range(rounds):
                for client, _ in CLIENTS:
                    cpu_before, wall_before = _cpu_seconds(info["pid"]), time.monotonic()
                    args = ["--client", client, "--url", info["url"], "--path", info["path"]]
                    result = _run_client(*args, "--seconds", str(seconds), "--concurrency", str(CONCURRENCY))
                    server_cpu = (_cpu_seconds(info["pid"]) - cpu_before) / (time.monotonic() - wall_before)
                    result.update(rate=result["requests"] / result["seconds"],
                                  per_cpu=result["requests"] / max(result["cpu"], 1e-9), server_cpu=server_cpu)
                    samples[client].append(result)
                    print(f"  {kind:8} round {round_index + 1} {client:7} {result['rate']:7.0f} req/s "
                          f"{result['per_cpu']:7.0f} req/CPU-s failed {result['failed']} "
                          f"(server CPU {server_cpu:.0%}, {_load()})", flush=True)
            median = {
                client: {key: _median([r[key] for r in runs]) for key in ("rate", "per_cpu", "server_cpu")}
                for client, runs in samples.items()
            }
            failed = {client: sum(r["failed"] for r in runs) for client, runs in samples.items()}
            for client, name in CLIENTS:
                m = median[client]
                cpu_ratio = median["engine"]["per_cpu"] / m["per_cpu"]
                wall_ratio = median["engine"]["rate"] / m["rate"]
                lines.append(f"| {label} | {name} | {m['rate']:,.0f} | {m['per_cpu']:,.0f} | "
                             f"{m['server_cpu']:.0%} | {cpu_ratio:.2f}x | {wall_ratio:.2f}x |"
                             + (f" ({failed[client]} failed)" if failed[client] else ""))
    lines += ["", "Goals: LoadEngine >= 1.0x Locust FastHttpUser and >= 0.85x raw aiohttp.", ""]
    return lines


OPEN_RUNS = ((500, "uvloop"), (2000, "uvloop"), (5000, "uvloop"), (500, "asyncio"), (2000, "asyncio"))


def open_loop(seconds: float, rounds: int) -> list[str]:
    lines = [f"### 2. Open loop against the minimal server, {seconds:g} s per run, {rounds} runs per rate", ""]
    lines.append("Lateness = actual send - due time, from the recorded histograms; rate error = |send rate - "
                 "target| / target with send rate = (sent - 1) / (last send - first send). Median run and best "
                 "run (lowest p99) shown.")
    lines.append("")
    lines.append("| rate/s | loop | sent / due | rate error | dropped | lateness p50 | p99 (median run) | "
                 "p99 (best run) | max (median run) |")
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    with _server("minimal") as info:
        samples: dict[tuple[int, str], list[dict[str, Any]]] = {run: [] for run in OPEN_RUNS}
        for round_index in range(rounds):
            for rate, loop_kind in OPEN_RUNS:
                result = _run_client("--client", "open", "--url", info["url"], "--rate", str(rate),
                                     "--seconds", str(seconds), "--loop", loop_kind)
                result["error_pct"] = abs(result["send_rate"] - rate) / rate * 100
                samples[(rate, loop_kind)].append(result)
                print(f"  round {round_index + 1} {rate:5}/s {loop_kind:7} sent {result['sent']}/"
                      f"{result['expected']:.0f} rate error {result['error_pct']:.3f}% lateness p50 "
                      f"{result['late_p50_ms']:.3f} p99 {result['late_p99_ms']:.3f} max {result['late_max_ms']:.3f} "
                      f"ms dropped {result['dropped']} ({_load()})", flush=True)
        for (rate, loop_kind), runs in samples.items():
            runs.sort(key=lambda r: r["late_p99_ms"])
            mid, best = runs[len(runs) // 2], runs[0]
            lines.append(
                f"| {rate:,} | {loop_kind} | {mid['sent']:,} / {mid['expected']:,.0f} | {mid['error_pct']:.3f}% | "
                f"{mid['dropped']} | {mid['late_p50_ms']:.3f} ms | {mid['late_p99_ms']:.3f} ms | "
                f"{best['late_p99_ms']:.3f} ms | {mid['late_max_ms']:.2f} ms |"
            )
    lines += ["", "Goals: rate within 0.1%; p99 lateness <= 1 ms at 5,000/s with uvloop, <= 1.5 ms at 2,000/s "
              "with asyncio.", ""]
    return lines


def recording(operations: int) -> list[str]:
    result = _run_client("--client", "record", "--operations", str(operations), timeout=900)
    lines = [f"### 3. Recording {result['operations']:,} operations", ""]
    lines.append(f"- {result['us_per_op']:.2f} µs of CPU per `record()` with lateness and latency values, "
                 f"seven operations in turn, flushes and listeners included ({result['cpu_seconds']:.1f} s in "
                 f"all); {result['recorded']:,} in the merged histograms, {result['events_lines']:,} lines in "
                 "events.jsonl")
    lines.append(f"- RSS growth over the run: {result['rss_growth_mb']:.1f} MB (goal <= 20 MB); it includes "
                 f"the recorder's per-second timeline ({result['timeline_entries']:,} entries for the simulated "
                 f"{result['operations'] / 5000:,.0f} s)")
    for name, item in result["percentiles"].items():
        lines.append(f"- {name}: exact {item['exact_ms']:.4f} ms, HDR {item['hdr_ms']:.4f} ms, "
                     f"error {item['error_pct']:.4f}%" + (" (goal <= 0.1%)" if name == "p99" else ""))
    lines.append("")
    print("\n".join(lines), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases (a smoke run)")
    parser.add_argument("--only", choices=("closed", "open", "record"), help="run one phase")
    parser.add_argument("--nice", type=int, default=0,
                        help="nice increment of the server and generator processes, e.g. -10 on a shared "
                             "machine (negative values need root)")
    parser.add_argument("--serve", choices=("kfp", "minimal"), help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=("engine", "raw", "locust", "open", "record"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=6.0, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=500.0, help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="uvloop", help=argparse.SUPPRESS)
    parser.add_argument("--spin", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--operations", type=int, default=10_000_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global NICE
    NICE = args.nice
    sys.path.insert(0, str(ROOT))
    if args.serve:
        serve(args.serve)
        return
    if args.client:
        if args.client == "engine":
            result = client_engine(args.url, args.seconds, args.concurrency)
        elif args.client == "raw":
            result = client_raw(args.url, args.path, args.seconds, args.concurrency)
        elif args.client == "locust":
            result = client_locust(args.url, args.path, args.seconds, args.concurrency)
        elif args.client == "open":
            result = client_open(args.url, args.rate, args.seconds, args.loop, args.spin)
        else:
            result = client_record(args.operations)
        print(json.dumps(result))
        return
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 cores; server and generator share one", file=sys.stderr)
    started = time.monotonic()
    lines: list[str] = []
    lines.append(f"Started with {_load()} on {os.cpu_count()} cores"
                 + (f", server and generator processes at nice {NICE:+d}." if NICE else "."))
    lines.append("")
    if args.only in (None, "closed"):
        lines += closed_loop(2.0, 1) if args.quick else closed_loop(2.0, 5)
    if args.only in (None, "open"):
        lines += open_loop(2.0, 1) if args.quick else open_loop(3.0, 2)
    if args.only in (None, "record"):
        lines += recording(500_000 if args.quick else 10_000_000)
    print()
    print("\n".join(lines))
    print(f"(bench took {time.monotonic() - started:.0f} s; ended with {_load()})")


if __name__ == "__main__":
    main()
