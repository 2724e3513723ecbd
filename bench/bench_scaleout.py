"""Scale-out: RANDOM_GETS open loop beyond what one process sends, one process against ``pytest -n 2``.

Run from the repository root (2-4 minutes)::

    .venv/bin/python bench/bench_scaleout.py [--seconds 4] [--rates 2000,4000,6000,8000,10000]

1. The ceiling of one process: ``python -m perf_tests run`` of a RANDOM_GETS entry (``healthz`` only,
   constant rate) at rising rates until one process drops more than 1% of its arrivals; that rate R is the
   one the comparison uses ("beyond one process").
2. At R: one process, then ``pytest -n 2 test_performance.py`` (two shards, merged), each against the same
   embedded simulator in its own process. Side by side: arrivals planned, sent, achieved rate, dropped,
   p99 send lateness and the generator's CPU (user + system of the load process and everything it
   started, from ``wait4``), with the ratio of ``-n 2`` to one process.

The server shares the machine's cores with the generators (and, on this machine, with other people's
work), so the result says where a 2-core box stops, not what two idle generator cores would do; its CPU is
reported too. Needs psutil (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perf_tests.server import EmbeddedKfpServer  # noqa: E402 - after the path change


def _scenario(folder: Path, rate: float, seconds: float) -> Path:
    path = folder / f"gets-{rate:g}.json"
    path.write_text(json.dumps([{
        "mode": "RANDOM_GETS", "name": "gets", "startTime": 0, "runTime": f"{seconds:g}s", "rate": rate,
        "endpoints": {"healthz": 1}, "maxConcurrency": 2000,
    }]), encoding="utf-8")
    return path


def _run(command: list[str], env: dict[str, str]) -> float:
    """Run to the end; the CPU seconds (user + system) of the process and its descendants."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):  # 1: a failed verdict (dropped arrivals) still has results
        raise RuntimeError(f"{command[:4]} exited {process.returncode}: "
                           f"{process.stderr.read().decode()[-2000:] if process.stderr else ''}")
    return float(usage.ru_utime + usage.ru_stime)


def _numbers(results: Path, cpu: float, server_cpu: float, seconds: float) -> dict[str, Any]:
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    part = summary["scenarios"][0]
    load = part["attrs"].get("load") or {}
    operation = part["operations"].get("healthz", {})
    return {
        "planned": load.get("planned"), "sent": load.get("sent"), "dropped": part["totals"]["dropped"],
        "rate": (load.get("sent") or 0) / seconds,
        "lateness_p99_ms": (operation.get("lateness") or {}).get("p99_ms"),
        "cpu_s": cpu, "server_cpu_s": server_cpu,
    }


def _measure(kind: str, rate: float, seconds: float, folder: Path, env: dict[str, str],
             server: psutil.Process) -> dict[str, Any]:
    scenario = _scenario(folder, rate, seconds)
    results = folder / f"{kind}-{rate:g}-{time.monotonic_ns()}"
    if kind == "one":
        command = [sys.executable, "-m", "perf_tests", "run", str(scenario), "--results-dir", str(results)]
    else:
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", "test_performance.py",
                   "--scenario", str(scenario), "--perf-results-dir", str(results), "--perf-shard-lead", "3"]
    before = sum(server.cpu_times()[:2])
    cpu = _run(command, env)
    return {"kind": kind, "rate_target": rate,
            **_numbers(results, cpu, sum(server.cpu_times()[:2]) - before, seconds)}


def _row(item: dict[str, Any]) -> str:
    late = item["lateness_p99_ms"]
    return (f"| {item['kind']} | {item['rate_target']:,.0f} | {item['planned']:,} | {item['sent']:,} | "
            f"{item['rate']:,.0f} | {item['dropped']:,} | {late:.1f} ms | {item['cpu_s']:.1f} s | "
            f"{item['server_cpu_s']:.1f} s |" if late is not None else f"| {item['kind']} | ... |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rates", default="2000,4000,6000,8000,10000")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    started = time.monotonic()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp, \
            EmbeddedKfpServer(isolation="process") as server:
        folder = Path(tmp)
        server_process = psutil.Process(server._child.process.pid)  # type: ignore[union-attr]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "API_HOST": "127.0.0.1", "API_PORT": str(server.port),
               "LOG_LEVEL": "WARNING", "PERF_PROGRESS_INTERVAL": "60"}
        ladder = []
        ceiling = rates[-1]
        for rate in rates:
            item = _measure("one", rate, args.seconds, folder, env, server_process)
            ladder.append(item)
            print(_row(item), flush=True)
            if item["dropped"] > 0.01 * (item["planned"] or 1):
                ceiling = rate
                break
        print(f"\none process drops arrivals from {ceiling:,.0f}/s; comparing at that rate\n")
        one = _measure("one", ceiling, args.seconds, folder, env, server_process)
        two = _measure("-n 2", ceiling, args.seconds, folder, env, server_process)
        # What starting up costs (imports, workers, collection): the same runs at 10/s for 1 s.
        idle_one = _measure("one", 10, 1, folder, env, server_process)["cpu_s"]
        idle_two = _measure("-n 2", 10, 1, folder, env, server_process)["cpu_s"]
        header = ("| generator | target/s | planned | sent | achieved/s | dropped | p99 lateness | generator CPU | "
                  "server CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        print("ladder (one process):\n" + header + "\n" + "\n".join(_row(item) for item in ladder))
        print("\nat the ceiling:\n" + header + "\n" + _row(one) + "\n" + _row(two))
        ratio_rate = two["rate"] / one["rate"] if one["rate"] else float("nan")
        ratio_cpu = (two["cpu_s"] / max(two["sent"], 1)) / (one["cpu_s"] / max(one["sent"], 1))
        load_one, load_two = one["cpu_s"] - idle_one, two["cpu_s"] - idle_two
        print(f"\nstart-up CPU (10/s for 1 s): one process {idle_one:.1f} s, -n 2 {idle_two:.1f} s; CPU of the load "
              f"itself: one process {load_one:.1f} s ({one['sent'] / max(load_one, 1e-9):,.0f} sent per CPU-s), "
              f"-n 2 {load_two:.1f} s ({two['sent'] / max(load_two, 1e-9):,.0f} sent per CPU-s)")
        print(f"-n 2 / one process: achieved rate {ratio_rate:.2f}x, dropped {two['dropped']:,} vs "
              f"{one['dropped']:,}, generator CPU per sent request {ratio_cpu:.2f}x (start-up included)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}; {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
