"""Soak benchmark: mixed load for a long time; RSS and open file descriptors must stay flat.

RANDOM_GETS at 500 req/s plus PIPELINE_RUN (5 runs in flight) against the embedded KFP simulator, in
one process (framework and simulator together), for ``--minutes`` (default 30). RSS and open file
descriptors are sampled every 10 s; growth is measured from the end of the warm-up (``--warmup``
minutes, default 3) to the end. Goal: growth < 10%.

    .venv/bin/python bench/bench_soak.py --minutes 30
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from perf_tests.config.settings import ConnectionSettings, LoggingSettings, ResultsSettings, Settings
from perf_tests.session.session import PerfSession

REPO = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="soak-"))
    scenario = work / "soak.json"
    scenario.write_text(json.dumps([
        {"mode": "RANDOM_GETS", "name": "gets", "startTime": 0, "runTime": f"{args.minutes}m", "rate": args.rate},
        {"mode": "PIPELINE_RUN", "name": "runs", "startTime": 0, "runTime": f"{args.minutes}m", "numTimes": 5,
         "pollInterval": "500ms", "allowedFailureRate": 0.01},
    ]))
    settings = Settings(
        connection=ConnectionSettings(EMBEDDED_SIMULATOR={"task_seconds": 1.0, "run_duration_spread": 0.3}),
        logging=LoggingSettings(LOG_LEVEL="WARNING"),
        results=ResultsSettings(PERF_PROGRESS_INTERVAL=60.0, PERF_CLEANUP="all"),
    )
    session = PerfSession(scenario=scenario, settings=settings, data_dir=REPO / "test_data",
                          results_dir=work / "results")
    samples: list[tuple[float, float, int]] = []
    done = threading.Event()

    def sample() -> None:
        start = time.monotonic()
        while not done.wait(args.interval):
            samples.append((time.monotonic() - start, rss_mib(), open_fds()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outcome = session.run()
    done.set()
    sampler.join()

    warm = [s for s in samples if s[0] >= args.warmup * 60] or samples
    first, last = warm[0], warm[-1]
    peak_rss = max(s[1] for s in warm)
    gets = next(s for s in outcome.summary["scenarios"] if s["name"] == "gets")
    requests = sum(op.get("count") or 0 for op in gets["operations"].values())
    print(f"soak: {args.minutes:g} min, RANDOM_GETS {args.rate:g}/s + PIPELINE_RUN x5, {len(samples)} samples")
    print(f"  requests sent by RANDOM_GETS: {requests} ({requests / (args.minutes * 60):.1f}/s), "
          f"dropped {gets['totals']['dropped']}")
    print(f"  RSS after warm-up {first[1]:.1f} MiB, at end {last[1]:.1f} MiB, peak {peak_rss:.1f} MiB: "
          f"growth {(last[1] / first[1] - 1) * 100:+.1f}% (goal < 10%)")
    print(f"  open fds after warm-up {first[2]}, at end {last[2]}, max {max(s[2] for s in warm)}: "
          f"growth {(last[2] / first[2] - 1) * 100:+.1f}% (goal < 10%)")
    print("  samples (t s, RSS MiB, fds): " + ", ".join(f"({t:.0f}, {r:.0f}, {f})" for t, r, f in samples[::6]))
    print(f"  verdict: {'passed' if outcome.passed else 'failed'}; results in {outcome.results_dir}")


if __name__ == "__main__":
    main()
