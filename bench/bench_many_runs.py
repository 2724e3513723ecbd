"""Tracking many runs: the harness's CPU, and its recorded latencies next to the server's own.

A ``PIPELINE_RUN`` entry keeps N runs in flight (``pollInterval`` 5 s, polls capped at the default
``maxPollsPerSecond``, unless ``--cap auto``) against the KFP simulator started as a separate process
(``python -m perf_tests.server --run-duration 20``). The harness runs in a child process of its own, so
its CPU time is the framework's alone. For each N it prints:

- harness CPU per second of the entry (share of one core), over the whole entry and its second half;
- ``create_run`` / ``get_run`` latency as recorded, next to the simulator's own service time for the same
  calls (``GET /_admin/stats`` ``service_ms``, the same window), the difference at p50, and the p50 of the
  same call made alone just before the entry (what one call costs this client on this machine now);
- ``queue_wait``: how long calls waited for their turn (not in the latency): a free HTTP connection of the
  runner's session on its event loop, and for creates a create slot (a blocking-call thread in older
  checkouts);
- the poll interval each run actually got (``poll_gap`` of ``get_run``, p50/p99) against the interval,
  and whether the cap allows every run its interval (N / pollInterval <= maxPollsPerSecond).

``--compare DIR`` runs the same harness from another checkout (e.g. the code before a change) against
a fresh simulator in the same invocation, so the two are measured side by side on the same machine.

    .venv/bin/python bench/bench_many_runs.py                          # 100, 1,000, 5,000 runs, 60 s each
    .venv/bin/python bench/bench_many_runs.py --runs 1000 --cap auto --seconds 30
    .venv/bin/python bench/bench_many_runs.py --runs 1000 --compare /tmp/before

``--harness`` is the internal child mode.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVER_CPU, HARNESS_CPU = 0, 1
CREATE_ROUTE = "POST /apis/v2beta1/runs"
GET_ROUTE = "GET /apis/v2beta1/runs/{run_id}"
DEFAULT_CAP = 20.0  # PipelineOptions.max_polls_per_second's default


def pin(process_id: int, cpu: int) -> bool:
    """Pin a process to one CPU; False when the machine has too few."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) <= max(SERVER_CPU, HARNESS_CPU):
        return False
    os.sched_setaffinity(process_id, {cpu})
    return True


# -- the simulator ---------------------------------------------------------------------------------


class Simulator:
    """``python -m perf_tests.server`` in a child process, from this checkout."""

    def __init__(self, run_duration: float, trace_dump: Path | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        # --trace: the same server with run_call_trace's probes (timestamps in a response header).
        start = ([str(ROOT / "bench" / "run_call_trace.py"), str(trace_dump), "--"] if trace_dump
                 else ["-m", "perf_tests.server"])
        self.process = subprocess.Popen(
            [sys.executable, *start, "--port", "0", "--run-duration", str(run_duration),
             "--pending-seconds", "0.5", "--log-level", "WARNING", "--stop-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if " at http" not in line:
            self.stop()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.url = line.rsplit(" at ", 1)[1].strip()
        self.pinned = pin(self.process.pid, SERVER_CPU)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_admin/stats", timeout=30) as answer:
            stats: dict[str, Any] = json.load(answer)
        return stats

    def reset_stats(self) -> None:
        request = urllib.request.Request(self.url + "/_admin/reset", method="POST",
                                         data=json.dumps({"data": False, "stats": True}).encode())
        urllib.request.urlopen(request, timeout=30).read()

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the harness (child process) -------------------------------------------------------------------


def harness(url: str, runs: int, seconds: float, interval: float, cap: float, out: Path,
            threads: int | None = None, trace: bool = False) -> None:
    """Run one PIPELINE_RUN entry as a session would (scheduler, recorder, events file); write JSON."""
    if trace:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import run_call_trace  # type: ignore[import-not-found]  # bench/, beside this file

        run_call_trace.install_client()
    from perf_tests.config.settings import AuthSettings, ConnectionSettings, ResultsSettings, Settings
    from perf_tests.models.scenario_file import build_scenario
    from perf_tests.recorder import EVENTS_FILE_NAME, EventHook, EventsFileWriter, Recorder
    from perf_tests.runners.context import RunContext
    from perf_tests.runners.registry import options_models, runner_for
    from perf_tests.scheduler import Clock, Scheduler
    from perf_tests.targets.kfp_target import EMBEDDED_KIND, KfpTarget

    entry = {"mode": "PIPELINE_RUN", "name": "many", "startTime": 0, "runTime": f"{seconds}s", "numTimes": runs,
             "pollInterval": f"{interval}s", "maxPollsPerSecond": cap}
    scenario = build_scenario([entry], options_models(), ROOT / "test_data")
    connection = ConnectionSettings(REQUEST_TIMEOUT=60)
    settings = Settings(connection=connection, results=ResultsSettings(PERF_CLEANUP="none"))
    hook, recorder = EventHook(), Recorder()
    results = Path(tempfile.mkdtemp(prefix="bench-many-runs-"))
    writer = EventsFileWriter(results / EVENTS_FILE_NAME)
    hook.add_listener(recorder)
    hook.add_listener(writer)
    target = KfpTarget(url=url, kind=EMBEDDED_KIND, connection=connection, auth=AuthSettings())
    context = RunContext(run_id="bench", settings=settings, events=hook, clock=Clock(), results_dir=results,
                         data_dir=ROOT / "test_data", kfp_target=target)
    floor = call_floor(target, ROOT / "test_data" / "pipeline_files" / "add_numbers.yaml")
    alone_calls = len(run_call_trace.CALLS) if trace else 0
    runner = runner_for("PIPELINE_RUN")(scenario.entries[0], context)
    if threads:
        runner.max_blocking_calls = threads  # type: ignore[attr-defined]  # before prepare sizes the pool
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            samples.append((time.monotonic(), time.process_time()))

    sampler = threading.Thread(target=sample, daemon=True)
    scheduler = Scheduler([runner], context.clock, context.abort, stop_grace=120, progress_interval=None)
    # The window: from the entry's start (after prepare) to its stop; cleanup is not part of it.
    began = [0.0, 0.0]

    def on_event(event: Any) -> None:
        if getattr(event, "phase", None) == "started" and not began[0]:
            began[:] = [time.monotonic(), time.process_time()]
            sampler.start()

    hook.add_listener(on_event)
    scheduler.run()
    done.set()
    writer.close()
    end = time.monotonic()
    window = [(t, c) for t, c in samples if t <= began[0] + seconds + 0.25]
    if not window:
        window = [(end, time.process_time())]
    t_end, cpu_end = window[-1]
    half = [(t, c) for t, c in window if t >= began[0] + seconds / 2]
    t_half, cpu_half = half[0] if half else window[0]
    record = recorder.scenarios["many"]
    operations = {name: stats.summary() for name, stats in record.operations.items()}
    out.write_text(json.dumps({
        "cpu_per_s": (cpu_end - began[1]) / max(1e-9, t_end - began[0]),
        "cpu_per_s_second_half": (cpu_end - cpu_half) / max(1e-9, t_end - t_half),
        "operations": {k: v for k, v in operations.items() if k in ("create_run", "get_run", "run_duration")},
        "notes": record.notes,
        "threads": getattr(runner, "max_blocking_calls", None),
        "floor": floor,
        **({"trace": {"alone": run_call_trace.summarize(run_call_trace.CALLS[:alone_calls]),
                      "entry": run_call_trace.summarize(run_call_trace.CALLS[alone_calls:])}} if trace else {}),
    }, default=str))


def call_floor(target: Any, pipeline: Path, count: int = 100) -> dict[str, float]:
    """p50 (ms) of create_run and get_run made one at a time, nothing else running: what one call costs
    this client on this machine now, measured the way the runner calls (on an event loop over aiohttp when
    the checkout has ``RunApi``, else its raw-answer helpers or kfp's client)."""
    client = target.client(pool_size=2)
    name = f"bench-floor-{time.time_ns()}"
    uploaded = client.upload_pipeline(pipeline_package_path=str(pipeline), pipeline_name=name)
    version = client.list_pipeline_versions(pipeline_id=uploaded.pipeline_id).pipeline_versions[0]
    experiment = client.create_experiment(name="Default")
    fields = {"experiment_id": experiment.experiment_id, "params": None, "pipeline_id": uploaded.pipeline_id,
              "version_id": version.pipeline_version_id}
    creates: list[float] = []
    gets: list[float] = []
    try:
        from perf_tests.runners.run_status import RunApi
    except ImportError:
        RunApi = None  # type: ignore[misc,assignment]  # an older checkout: its raw-answer helpers, or kfp's client
    if RunApi is not None:
        import asyncio

        from perf_tests.load.http import kfp_session

        try:  # timed as the runner times it: the exchange alone (request handed over -> last byte read)
            from perf_tests.load.exchange import Exchange
        except ImportError:  # an older checkout: the whole call
            Exchange = None  # type: ignore[misc,assignment]

        async def timed(call: Any, *args: Any) -> tuple[Any, float]:
            if Exchange is None:
                began = time.monotonic()
                return await call(*args), time.monotonic() - began
            exchange = Exchange()
            result = await call(*args, exchange)
            assert exchange.sent_at is not None
            assert exchange.read_at is not None
            return result, exchange.read_at - exchange.sent_at

        async def on_the_loop() -> None:
            async with kfp_session(target, 2) as session:
                api = RunApi(session, target.url, client)
                try:  # encoded once, the name spliced in (RunBody)
                    body: Any = api.run_body(**fields).named(name)
                except TypeError:  # an older checkout: a dict with the name in it
                    body = api.run_body(job_name=name, **fields)  # type: ignore[call-arg]
                run_id = ""
                for _ in range(count // 4):
                    created, took = await timed(api.create, body)
                    run_id = created.run_id
                    creates.append(took)
                for _ in range(count):
                    gets.append((await timed(api.get, run_id))[1])

        asyncio.run(on_the_loop())
    else:
        try:
            from perf_tests.runners.run_status import (  # type: ignore[attr-defined]  # older checkouts only
                fetch_run,
                submit_run,
            )

            def create() -> Any:
                return submit_run(client, job_name=name, **fields)

            def get(run_id: str) -> Any:
                return fetch_run(client, run_id)
        except ImportError:
            def create() -> Any:
                return client.run_pipeline(job_name=name, **fields)

            def get(run_id: str) -> Any:
                return client.get_run(run_id)

        run_id = ""
        for _ in range(count // 4):
            began = time.perf_counter()
            run_id = create().run_id
            creates.append(time.perf_counter() - began)
        for _ in range(count):
            began = time.perf_counter()
            get(run_id)
            gets.append(time.perf_counter() - began)
    return {"create_run_p50_ms": sorted(creates)[len(creates) // 2] * 1000,
            "get_run_p50_ms": sorted(gets)[len(gets) // 2] * 1000}


# -- one configuration -----------------------------------------------------------------------------


def measure(runs: int, seconds: float, interval: float, cap: float, run_duration: float,
            checkout: Path, threads: int | None = None, trace: bool = False) -> dict[str, Any]:
    """Start a simulator, run the harness from ``checkout`` against it, collect both sides."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "server-trace.json"
        result = _measure(runs, seconds, interval, cap, run_duration, checkout, threads, dump if trace else None)
        if trace and dump.exists():
            result["trace_server_written_p50_ms"] = {k: v * 1000 for k, v in json.loads(dump.read_text()).items()}
    return result


def _measure(runs: int, seconds: float, interval: float, cap: float, run_duration: float,
             checkout: Path, threads: int | None, trace_dump: Path | None) -> dict[str, Any]:
    simulator = Simulator(run_duration, trace_dump)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "harness.json"
            child = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--harness", simulator.url, "--runs", str(runs),
                 "--seconds", str(seconds), "--interval", str(interval), "--cap-value", str(cap),
                 "--out", str(out), *(["--threads", str(threads)] if threads else []),
                 *(["--trace"] if trace_dump else [])],
                env={**os.environ, "PYTHONPATH": str(checkout)}, cwd=checkout,
            )
            pin(child.pid, HARNESS_CPU)
            simulator.reset_stats()  # the simulator's window: this harness only (prepare included)
            child.wait()
            if child.returncode != 0 or not out.exists():
                raise RuntimeError(f"the harness from {checkout} failed (exit {child.returncode})")
            result: dict[str, Any] = json.loads(out.read_text())
        result["server"] = simulator.stats().get("service_ms", {})
        result["pinned"] = simulator.pinned
    finally:
        simulator.stop()
    return result


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.2f}"


def report(label: str, runs: int, interval: float, cap: float, result: dict[str, Any]) -> list[str]:
    """The lines printed for one configuration."""
    ops, server = result["operations"], result["server"]
    lines = [f"{label}: {runs} runs, pollInterval {interval:g}s, maxPollsPerSecond {cap:g} "
             f"(cap allows every run its interval: {'yes' if runs / interval <= cap else 'no'}), "
             f"{result.get('threads')} HTTP connections (blocking-call threads in older checkouts)"]
    lines.append(f"  harness CPU: {result['cpu_per_s']:.1%} of a core over the entry, "
                 f"{result['cpu_per_s_second_half']:.1%} over its second half")
    for op, route in (("create_run", CREATE_ROUTE), ("get_run", GET_ROUTE)):
        mine, theirs = ops.get(op) or {}, server.get(route) or {}
        p50, server_p50 = mine.get("p50_ms"), theirs.get("p50")
        diff = p50 - server_p50 if isinstance(p50, int | float) and isinstance(server_p50, int | float) else None
        lines.append(
            f"  {op:<10} n={mine.get('count', 0):<6} recorded p50 {_ms(p50)} p99 {_ms(mine.get('p99_ms'))} ms | "
            f"server p50 {_ms(server_p50)} p99 {_ms(theirs.get('p99'))} ms (n={theirs.get('count', 0)}) | "
            f"recorded - server at p50: {_ms(diff)} ms | the same call alone: p50 "
            f"{_ms(_get(result, 'floor', f'{op}_p50_ms'))} ms | queue_wait p50 "
            f"{_ms(_get(mine, 'queue_wait', 'p50_ms'))} p99 {_ms(_get(mine, 'queue_wait', 'p99_ms'))} ms | "
            f"harness_delay p50 {_ms(_get(mine, 'harness_delay', 'p50_ms'))} p99 "
            f"{_ms(_get(mine, 'harness_delay', 'p99_ms'))} ms"
        )
    gap = _get(ops, "get_run", "poll_gap")
    if isinstance(gap, dict):
        lines.append(f"  poll interval each run got: p50 {gap['p50_ms'] / 1000:.2f}s p99 {gap['p99_ms'] / 1000:.2f}s "
                     f"max {gap['max_ms'] / 1000:.2f}s (p99 / pollInterval = {gap['p99_ms'] / 1000 / interval:.2f})")
    finished = _get(ops, "run_duration", "count")
    lines.append(f"  runs finished and seen: {finished or 0}")
    lines.extend(f"  note: {note}" for note in result.get("notes", []))
    lines.extend(_trace_lines(result))
    return lines


def _trace_lines(result: dict[str, Any]) -> list[str]:
    """--trace: p50 of each segment of a call, alone and under the entry's load."""
    trace = result.get("trace")
    if not trace:
        return []
    lines = ["  trace (p50 ms; alone / under the entry):"]
    for op in ("create_run", "get_run"):
        alone, entry = trace["alone"].get(op, {}), trace["entry"].get(op, {})
        lines.append(f"    {op}: n {alone.get('n')} / {entry.get('n')}, answer {entry.get('bytes_p50')} bytes")
        for key in ("segments_p50_ms", "wholes_p50_ms"):
            for name, value in (entry.get(key) or {}).items():
                lines.append(f"      {name:<72} {_ms((alone.get(key) or {}).get(name))} / {_ms(value)}")
    written = result.get("trace_server_written_p50_ms") or {}
    for route in (CREATE_ROUTE, GET_ROUTE):
        lines.append(f"    server: answer built -> written ({route}), whole run: p50 {_ms(written.get(route))} ms")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 1000, 5000], help="runs in flight")
    parser.add_argument("--seconds", type=float, default=60.0, help="runTime of each entry (default 60)")
    parser.add_argument("--interval", type=float, default=5.0, help="pollInterval (default 5 s)")
    parser.add_argument("--cap", choices=("default", "auto"), default="default",
                        help="maxPollsPerSecond: the default (20), or enough for every run's interval")
    parser.add_argument("--run-duration", type=float, default=20.0, help="simulated run duration (default 20 s)")
    parser.add_argument("--compare", type=Path, help="also run the harness from this checkout, side by side")
    parser.add_argument("--threads", type=int, nargs="+", default=[None],
                        help="override the runner's blocking-call threads (several: one measurement each)")
    parser.add_argument("--json", type=Path, help="write every result to this file too")
    parser.add_argument("--trace", action="store_true",
                        help="also break each call's time down, client and server side (bench/run_call_trace.py; "
                        "the probes cost some time themselves)")
    parser.add_argument("--harness", help=argparse.SUPPRESS)
    parser.add_argument("--cap-value", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.harness:
        harness(args.harness, args.runs[0], args.seconds, args.interval, args.cap_value, args.out, args.threads[0],
                args.trace)
        return 0
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start "
          "(shared machines inflate every figure; compare within one invocation)", flush=True)
    everything = []
    for runs in args.runs:
        cap = DEFAULT_CAP if args.cap == "default" else max(DEFAULT_CAP, 1.25 * runs / args.interval)
        checkouts = [("this checkout", ROOT)] + ([(f"--compare {args.compare}", args.compare)] if args.compare else [])
        for (label, checkout), threads in [(c, t) for c in checkouts for t in args.threads]:
            result = measure(runs, args.seconds, args.interval, cap, args.run_duration, checkout, threads,
                             args.trace and checkout == ROOT)
            print("\n".join(report(label, runs, args.interval, cap, result)), flush=True)
            everything.append({"label": label, "runs": runs, "cap": cap, **result})
        if args.compare and len(everything) >= 2:
            new, old = everything[-2], everything[-1]
            print(f"  ratio harness CPU (--compare / this checkout): "
                  f"{old['cpu_per_s'] / max(1e-9, new['cpu_per_s']):.1f}x", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end", flush=True)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
