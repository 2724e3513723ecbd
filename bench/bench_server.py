"""How fast the embedded KFP simulator answers, next to what the load client itself can do.

The server runs in a child process pinned to one core, the load client (an aiohttp keep-alive loop)
in this process pinned to another. For each endpoint it reports requests per second, then the same
client against a trivial aiohttp handler that returns a constant body, on the same core, as the
ceiling; the ratio says how much of that ceiling the simulator reaches.

    .venv/bin/python bench/bench_server.py                   # 2,000 seeded runs, 5 s per endpoint
    .venv/bin/python bench/bench_server.py --runs 100000     # list/get with 100k runs in the table
    .venv/bin/python bench/bench_server.py --against /tmp/base   # A/B against another checkout

With ``--against TREE`` (a checkout of an older commit, e.g. ``git worktree add /tmp/base <commit>``)
it starts that tree's simulator next to this one's, both on the server core, and measures each
endpoint in short slices that alternate between the two (A B B A ...), so drift in the machine's speed
falls on both alike; it prints each tree's median req/s and the median and range of the per-pair
ratios. This is the measurement to use on a machine whose speed wanders between runs.

The child modes (``--serve``, ``--serve-trivial``) are internal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "test_data" / "pipeline_files" / "add_numbers.yaml"
SERVER_CPU, CLIENT_CPU = 0, 1
TRIVIAL_BODY = b'{"multi_user":false,"pipeline_store":"database"}'
JSON = {"Content-Type": "application/json"}


def pin(cpu: int) -> bool:
    """Pin this process to one CPU; False when the machine has too few."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) <= max(SERVER_CPU, CLIENT_CPU):
        return False
    os.sched_setaffinity(0, {cpu})
    return True


# -- child processes -------------------------------------------------------------------------------


def serve_simulator(runs: int, experiments: int, event_loop: str) -> None:
    """Start the simulator, seed it, print READY and the ids, serve until stdin closes.

    Even-numbered experiments get runs of an uploaded pipeline version (small answers), odd-numbered
    ones runs created from the compiled spec, which the API echoes in every answer (about 5 KB each).
    """
    sys.path.insert(0, str(ROOT))
    from perf_tests.server import EmbeddedKfpServer, EventLoopKind, KfpSimulatorApp

    loop_kind = cast(EventLoopKind, event_loop)
    server = EmbeddedKfpServer(event_loop=loop_kind, task_seconds=0.5, pending_seconds=0.1, seed=1)
    server.start()

    def setup(app: KfpSimulatorApp) -> dict[str, Any]:
        service = app.service
        pipeline = json.loads(service.upload_pipeline({"name": "bench"}, PIPELINE.read_bytes(), PIPELINE.name))
        versions = json.loads(service.list_pipeline_versions(pipeline["pipeline_id"], {}))
        reference = {
            "pipeline_id": pipeline["pipeline_id"],
            "pipeline_version_id": versions["pipeline_versions"][0]["pipeline_version_id"],
        }
        spec = yaml.safe_load(PIPELINE.read_text())
        experiment_ids = [
            json.loads(service.create_experiment(json.dumps({"display_name": f"bench-{i}"}).encode()))["experiment_id"]
            for i in range(experiments)
        ]
        return {"experiments": experiment_ids, "reference": reference, "spec": spec}

    def create_runs(first: int, count: int, ids: dict[str, Any]) -> Callable[[KfpSimulatorApp], list[str]]:
        def create(app: KfpSimulatorApp) -> list[str]:
            experiment_ids = ids["experiments"]
            run_ids = []
            for i in range(first, first + count):
                body: dict[str, Any] = {"display_name": f"run-{i}", "experiment_id": experiment_ids[i % experiments]}
                if i % experiments % 2:
                    body["pipeline_spec"] = ids["spec"]
                else:
                    body["pipeline_version_reference"] = ids["reference"]
                run_ids.append(json.loads(app.service.create_run(json.dumps(body).encode()))["run_id"])
            return run_ids

        return create

    started = time.perf_counter()
    ids = server.call(setup)
    run_ids: list[str] = []
    for first in range(0, runs, 1000):
        run_ids += server.call(create_runs(first, min(1000, runs - first), ids), timeout=None)
    del ids["spec"]
    ids["runs"] = run_ids[-5000:]
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


Request = tuple[str, str, bytes | None]
"""Method, path and body of one request."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    url: str,
    make_request: Callable[[random.Random], Request],
    seconds: float,
    concurrency: int,
    warmup: float,
    server_pid: int,
) -> tuple[float, float, int]:
    """Over ``seconds`` of ``concurrency`` keep-alive workers: requests per second, the server's CPU
    seconds per request, and the count of non-200 answers."""
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
                method, path, body = make_request(rng)
                async with session.request(method, path, data=body, headers=JSON) as response:
                    await response.read()
                    if counting:
                        done += 1
                        bad += response.status != 200

        tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
        await asyncio.sleep(warmup)
        counting = True
        started, cpu_started = time.perf_counter(), cpu_seconds(server_pid)
        await asyncio.sleep(seconds)
        counting = False
        elapsed, cpu_used = time.perf_counter() - started, cpu_seconds(server_pid) - cpu_started
        stop = True
        await asyncio.gather(*tasks)
    return done / elapsed, cpu_used / max(done, 1), bad


def start_child(
    args: list[str], root: Path = ROOT, wrapper: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    """Start ``root``'s bench_server.py in a child mode (under ``wrapper``, e.g. valgrind, whose report
    is then on the child's piped stderr); its URL and the ids it printed."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [*wrapper, sys.executable, str(root / "bench" / "bench_server.py"), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if wrapper else None,
        text=True,
        cwd=root,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("READY"):
            _, url, payload = line.split(" ", 2)
            return process, url, json.loads(payload)
    detail = f": {process.stderr.read()[-2000:]}" if process.stderr is not None else ""
    raise RuntimeError(f"the server child of {root} exited with {process.wait()}{detail}")


def stop_child(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


Scenario = tuple[str, Callable[[random.Random], Request]]


def scenarios_for(ids: dict[str, Any]) -> list[Scenario]:
    """The measured endpoints, with requests made from one seeded simulator's ids."""
    runs, experiments = ids["runs"], ids["experiments"]
    by_version, with_spec = experiments[0::2], experiments[1::2]
    create_body = json.dumps(
        {"display_name": "bench-create", "experiment_id": by_version[0], "pipeline_version_reference": ids["reference"]}
    ).encode()
    api = "/apis/v2beta1"
    return [
        ("healthz", lambda rng: ("GET", f"{api}/healthz", None)),
        ("get_run", lambda rng: ("GET", f"{api}/runs/{rng.choice(runs)}", None)),
        ("list_runs(page_size=20)", lambda rng: ("GET", f"{api}/runs?page_size=20&sort_by=created_at%20desc", None)),
        (
            "list_runs(experiment_id, page_size=20), version runs",
            lambda rng: ("GET", f"{api}/runs?page_size=20&experiment_id={rng.choice(by_version)}", None),
        ),
        (
            "list_runs(experiment_id, page_size=20), spec runs",
            lambda rng: ("GET", f"{api}/runs?page_size=20&experiment_id={rng.choice(with_spec)}", None),
        ),
        ("get_experiment", lambda rng: ("GET", f"{api}/experiments/{rng.choice(experiments)}", None)),
        ("create_run (pipeline version)", lambda rng: ("POST", f"{api}/runs", create_body)),
    ]


def describe_run(args: argparse.Namespace, pinned: bool, seed_seconds: float) -> None:
    command = "python " + " ".join([os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    print(f"command: {command}")
    print(f"cpus: server on {SERVER_CPU}, client on {CLIENT_CPU}" if pinned else "cpus: NOT pinned (fewer than 2 CPUs)")
    print(
        f"seeded {args.runs} runs (half from a pipeline version, half with an embedded spec) in "
        f"{args.experiments} experiments in {seed_seconds:.1f} s; "
        f"{args.concurrency} keep-alive connections; {args.seconds:g} s per endpoint; event loop {args.event_loop}"
    )


def simulator_args(args: argparse.Namespace) -> list[str]:
    return [
        "--serve",
        "--runs",
        str(args.runs),
        "--experiments",
        str(args.experiments),
        "--cpu",
        str(SERVER_CPU),
        "--event-loop",
        args.event_loop,
    ]


def run_client(args: argparse.Namespace) -> int:
    pinned = pin(CLIENT_CPU)
    trivial_args = ["--serve-trivial", "--cpu", str(SERVER_CPU), "--event-loop", args.event_loop]
    trivial, trivial_url, _ = start_child(trivial_args)
    try:
        ceiling, ceiling_cpu, _ = asyncio.run(
            measure(
                trivial_url, lambda rng: ("GET", "/", None), args.seconds, args.concurrency, args.warmup, trivial.pid
            )
        )
    finally:
        stop_child(trivial)

    simulator, url, ids = start_child(simulator_args(args))
    results = []
    try:
        for name, make_request in scenarios_for(ids):
            rate, cpu, bad = asyncio.run(
                measure(url, make_request, args.seconds, args.concurrency, args.warmup, simulator.pid)
            )
            results.append((name, rate, cpu, bad))
    finally:
        stop_child(simulator)

    describe_run(args, pinned, ids["seed_seconds"])
    header = (
        f"{'endpoint':54} {'req/s':>8} {'of ceiling':>10} {'server CPU/req':>14} {'CPU-bound req/s':>15} {'non-200':>7}"
    )
    print(header)
    print(
        f"{'ceiling: trivial aiohttp handler':54} {ceiling:8.0f} {'100%':>10} {ceiling_cpu * 1e6:11.0f} us "
        f"{1 / ceiling_cpu:15.0f} {'-':>7}"
    )
    for name, rate, cpu, bad in results:
        print(f"{name:54} {rate:8.0f} {rate / ceiling:10.0%} {cpu * 1e6:11.0f} us {1 / cpu:15.0f} {bad:7d}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (other processes compete for the 2 cores)")
    return 0 if all(bad == 0 for *_, bad in results) else 1


def run_against(args: argparse.Namespace) -> int:
    """Interleaved A/B: ``args.against``'s simulator (A) and this tree's (B), slice by slice."""
    pinned = pin(CLIENT_CPU)
    base_root = Path(args.against).resolve()
    base, base_url, base_ids = start_child(simulator_args(args), root=base_root)
    try:
        this, this_url, this_ids = start_child(simulator_args(args))
        try:
            rows = []
            bad_total = 0
            for (name, base_request), (_, this_request) in zip(
                scenarios_for(base_ids), scenarios_for(this_ids), strict=True
            ):
                if args.only and args.only not in name:
                    continue
                rates: tuple[list[float], list[float]] = ([], [])
                cpus: tuple[list[float], list[float]] = ([], [])
                sides = [(0, base_url, base_request, base), (1, this_url, this_request, this)]
                for pair in range(args.pairs):
                    for side, url, make_request, child in sides if pair % 2 == 0 else sides[::-1]:
                        rate, cpu, bad = asyncio.run(
                            measure(url, make_request, args.seconds, args.concurrency, args.warmup, child.pid)
                        )
                        rates[side].append(rate)
                        cpus[side].append(cpu)
                        bad_total += bad
                rate_ratios = sorted(b / a for a, b in zip(*rates, strict=True))
                cpu_ratios = sorted(b / a for a, b in zip(*cpus, strict=True))
                rows.append((name, [statistics.median(r) for r in rates], rate_ratios, cpu_ratios))
        finally:
            stop_child(this)
    finally:
        stop_child(base)

    describe_run(args, pinned, this_ids["seed_seconds"])
    print(f"A: {base_root}; B: {ROOT}; {args.pairs} pairs of slices per endpoint, alternating A B / B A")
    ratios = f"{'B/A req/s: median':>17} {'range':>10} {'B/A server CPU/req':>18}"
    print(f"{'endpoint':54} {'A req/s':>8} {'B req/s':>8} {ratios}")
    for name, (base_rate, this_rate), rate_ratios, cpu_ratios in rows:
        spread = f"{rate_ratios[0]:.2f}-{rate_ratios[-1]:.2f}"
        print(
            f"{name:54} {base_rate:8.0f} {this_rate:8.0f} {statistics.median(rate_ratios):17.2f} {spread:>10} "
            f"{statistics.median(cpu_ratios):18.2f}"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (other processes compete for the 2 cores)")
    return 0 if bad_total == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs to seed (default 2000)")
    parser.add_argument("--experiments", type=int, default=20, help="experiments to spread them over (default 20)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per endpoint (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (default 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument("--event-loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--against", metavar="TREE", help="A/B against the simulator of another checkout")
    parser.add_argument("--pairs", type=int, default=6, help="with --against: slice pairs per endpoint (default 6)")
    parser.add_argument("--only", metavar="TEXT", help="with --against: only the endpoints whose name contains TEXT")
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
    return run_against(args) if args.against else run_client(args)


if __name__ == "__main__":
    sys.exit(main())
