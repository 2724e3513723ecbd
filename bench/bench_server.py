"""How fast the embedded KFP simulator answers, next to what the load client itself can do.

The server runs in a child process pinned to one core, the load client (an aiohttp keep-alive loop)
in this process pinned to another. For each endpoint it reports requests per second, then the same
client against a trivial aiohttp handler that returns a constant body, on the same core, as the
ceiling; the ratio says how much of that ceiling the simulator reaches.

    .venv/bin/python bench/bench_server.py                   # 2,000 seeded runs, 5 s per endpoint
    .venv/bin/python bench/bench_server.py --runs 100000     # list/get with 100k runs in the table

The child modes (``--serve``, ``--serve-trivial``) are internal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "test_data" / "pipeline_files" / "add_numbers.yaml"
SERVER_CPU, CLIENT_CPU = 0, 1
TRIVIAL_BODY = b'{"multi_user":false,"pipeline_store":"database"}'


def pin(cpu: int) -> bool:
    """Pin this process to one CPU; False when the machine has too few."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) <= max(SERVER_CPU, CLIENT_CPU):
        return False
    os.sched_setaffinity(0, {cpu})
    return True


# -- child processes -------------------------------------------------------------------------------


def serve_simulator(runs: int, experiments: int, event_loop: str) -> None:
    """Start the simulator, seed it, print READY and the ids, serve until stdin closes."""
    sys.path.insert(0, str(ROOT))
    import yaml

    from perf_tests.server import EmbeddedKfpServer, KfpSimulatorApp

    spec = json.dumps(yaml.safe_load(PIPELINE.read_text())).encode()
    server = EmbeddedKfpServer(event_loop=event_loop, task_seconds=0.5, pending_seconds=0.1, seed=1)  # type: ignore[arg-type]
    server.start()

    def seed(app: KfpSimulatorApp) -> dict[str, Any]:
        service = app.service
        experiment_ids = [
            json.loads(service.create_experiment(json.dumps({"display_name": f"bench-{i}"}).encode()))["experiment_id"]
            for i in range(experiments)
        ]
        run_ids = []
        template = json.loads(spec)
        for i in range(runs):
            body = {"display_name": f"run-{i}", "experiment_id": experiment_ids[i % experiments], "pipeline_spec": template}
            run_ids.append(json.loads(service.create_run(json.dumps(body).encode()))["run_id"])
        return {"experiments": experiment_ids, "runs": run_ids[-5000:]}

    started = time.perf_counter()
    ids = server.call(seed)
    ids["seed_seconds"] = time.perf_counter() - started
    print("READY", server.url, json.dumps(ids), flush=True)
    sys.stdin.read()
    server.stop()


def serve_trivial(event_loop: str) -> None:
    """A constant-answer aiohttp low-level server: the ceiling of the load client."""
    from aiohttp import web

    async def main() -> None:
        async def handler(request: web.BaseRequest) -> web.Response:
            return web.Response(body=TRIVIAL_BODY, content_type="application/json")

        server = web.Server(handler, access_log=None)
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(server, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        print("READY", f"http://127.0.0.1:{port}", "{}", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)

    if event_loop != "asyncio":
        try:
            import uvloop

            uvloop.run(main())
            return
        except ImportError:
            pass
    asyncio.run(main())


# -- the load client -------------------------------------------------------------------------------


async def measure(
    url: str, make_path: Callable[[random.Random], str], seconds: float, concurrency: int, warmup: float
) -> tuple[float, int]:
    """Requests per second of ``concurrency`` keep-alive workers over ``seconds``; and the non-200 count."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        counting = False
        done = 0
        bad = 0
        stop = False

        async def worker(index: int) -> None:
            nonlocal done, bad
            rng = random.Random(index)
            while not stop:
                async with session.get(make_path(rng)) as response:
                    await response.read()
                    if counting:
                        done += 1
                        bad += response.status != 200

        tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
        await asyncio.sleep(warmup)
        counting = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        counting = False
        elapsed = time.perf_counter() - started
        stop = True
        await asyncio.gather(*tasks)
    return done / elapsed, bad


def start_child(args: list[str]) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("READY"):
            _, url, payload = line.split(" ", 2)
            return process, url, json.loads(payload)
    raise RuntimeError(f"the server child exited with {process.wait()}")


def stop_child(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def run_client(args: argparse.Namespace) -> int:
    pinned = pin(CLIENT_CPU)
    common = ["--cpu", str(SERVER_CPU), "--event-loop", args.event_loop]
    trivial, trivial_url, _ = start_child(["--serve-trivial", *common])
    try:
        ceiling, _ = asyncio.run(measure(trivial_url, lambda rng: "/", args.seconds, args.concurrency, args.warmup))
    finally:
        stop_child(trivial)

    simulator, url, ids = start_child(
        ["--serve", "--runs", str(args.runs), "--experiments", str(args.experiments), *common]
    )
    runs, experiments = ids["runs"], ids["experiments"]
    scenarios: list[tuple[str, Callable[[random.Random], str]]] = [
        ("healthz", lambda rng: "/apis/v2beta1/healthz"),
        ("get_run", lambda rng: f"/apis/v2beta1/runs/{rng.choice(runs)}"),
        ("list_runs(page_size=20)", lambda rng: "/apis/v2beta1/runs?page_size=20&sort_by=created_at%20desc"),
        (
            "list_runs(experiment_id, page_size=20)",
            lambda rng: f"/apis/v2beta1/runs?page_size=20&experiment_id={rng.choice(experiments)}",
        ),
        ("get_experiment", lambda rng: f"/apis/v2beta1/experiments/{rng.choice(experiments)}"),
    ]
    results = []
    try:
        for name, make_path in scenarios:
            rate, bad = asyncio.run(measure(url, make_path, args.seconds, args.concurrency, args.warmup))
            results.append((name, rate, bad))
    finally:
        stop_child(simulator)

    command = "python " + " ".join([os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    print(f"command: {command}")
    print(
        f"cpus: server on {SERVER_CPU}, client on {CLIENT_CPU}" if pinned else "cpus: NOT pinned (fewer than 2 CPUs)"
    )
    print(
        f"seeded {args.runs} runs in {args.experiments} experiments in {ids['seed_seconds']:.1f} s; "
        f"{args.concurrency} keep-alive connections; {args.seconds:g} s per endpoint; event loop {args.event_loop}"
    )
    print(f"{'endpoint':42} {'req/s':>9} {'of ceiling':>10} {'non-200':>8}")
    print(f"{'ceiling: trivial aiohttp handler':42} {ceiling:9.0f} {'100%':>10} {'-':>8}")
    for name, rate, bad in results:
        print(f"{name:42} {rate:9.0f} {rate / ceiling:10.0%} {bad:8d}")
    return 0 if all(bad == 0 for _, _, bad in results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs to seed (default 2000)")
    parser.add_argument("--experiments", type=int, default=20, help="experiments to spread them over (default 20)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per endpoint (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (default 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument("--event-loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-trivial", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu is not None:
        pin(args.cpu)
    if args.serve:
        serve_simulator(args.runs, args.experiments, args.event_loop)
        return 0
    if args.serve_trivial:
        serve_trivial(args.event_loop)
        return 0
    return run_client(args)


if __name__ == "__main__":
    sys.exit(main())
