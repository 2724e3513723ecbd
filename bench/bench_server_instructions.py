"""CPU instructions per request of the embedded KFP simulator, this checkout against another, counted by
valgrind: a measure the machine's load and speed cannot move (two counts of one tree agree within 0.1%),
where req/s on a shared VM wanders by 10-25% between runs.

    .venv/bin/python bench/bench_server_instructions.py --against /tmp/base     # git worktree add /tmp/base <commit>
    .venv/bin/python bench/bench_server_instructions.py --against /tmp/base --only create_run

For each endpoint of ``bench_server.py`` and each tree it starts the tree's simulator child
(``bench_server.py --serve``, 2,000 seeded runs) under ``valgrind --tool=cachegrind --cache-sim=no``,
reads every seeded run once (so finished runs' answers are kept, as in a long run), then sends the
endpoint's requests one at a time over one keep-alive connection: ``--requests`` of them in one child and
a tenth of that in another. The difference of the two children's instruction counts over the difference
of their requests is the endpoint's steady cost per request, start-up and seeding cancelled out.
Instructions are not time (cache misses and system calls are not in them), so this complements
``bench_server.py --against``; it does not replace it. Needs valgrind (Debian: ``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import sys
from pathlib import Path

from bench_server import ROOT, scenarios_for, start_child  # type: ignore[import-not-found]  # bench/, beside this file

INSTRUCTIONS = re.compile(r"I\s+refs:\s+([\d,]+)")


def count_instructions(root: Path, scenario: int, requests: int, runs: int, experiments: int) -> int:
    """Instructions the simulator child of ``root`` executes from start to exit, serving ``requests``
    requests of scenario number ``scenario`` after one read of every seeded run."""
    valgrind = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
    serve = ["--serve", "--runs", str(runs), "--experiments", str(experiments)]
    child, url, ids = start_child(serve, root=root, wrapper=valgrind)
    assert child.stdin is not None
    assert child.stderr is not None
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)

    def send(method: str, path: str, body: bytes | None) -> None:
        connection.request(method, path, body, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{method} {path} answered {answer.status}")

    for run_id in ids["runs"]:
        send("GET", f"/apis/v2beta1/runs/{run_id}", None)
    _, make_request = scenarios_for(ids)[scenario]
    rng = random.Random(1)  # the same requests in both trees
    for _ in range(requests):
        send(*make_request(rng))
    connection.close()
    child.stdin.close()
    report = child.stderr.read()
    child.wait()
    found = INSTRUCTIONS.search(report)
    if found is None:
        raise RuntimeError(f"valgrind printed no instruction count: {report[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_request(root: Path, scenario: int, args: argparse.Namespace) -> float:
    few = max(args.requests // 10, 1)
    counts = [count_instructions(root, scenario, n, args.runs, args.experiments) for n in (few, args.requests)]
    return (counts[1] - counts[0]) / (args.requests - few)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", metavar="TREE", required=True, help="the checkout to compare with (A)")
    parser.add_argument("--only", metavar="TEXT", help="only the endpoints whose name contains TEXT")
    parser.add_argument("--requests", type=int, default=1000, help="requests in the larger child (default 1000)")
    parser.add_argument("--runs", type=int, default=2000, help="runs to seed (default 2000)")
    parser.add_argument("--experiments", type=int, default=20, help="experiments to spread them over (default 20)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    base = Path(args.against).resolve()
    if not (base / "bench" / "bench_server.py").is_file():
        parser.error(f"--against {args.against}: no bench/bench_server.py there (give a checkout of this repository)")
    names = [name for name, _ in scenarios_for({"runs": ["r"], "experiments": ["e", "f"], "reference": {}})]
    command = "python " + " ".join([os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    print(f"command: {command}")
    print(f"A: {base}; B: {ROOT}; {args.runs} seeded runs, every one read once, then the endpoint's requests")
    print(f"{'endpoint':54} {'A instr/req':>12} {'B instr/req':>12} {'B/A':>6}")
    for index, name in enumerate(names):
        if args.only and args.only not in name:
            continue
        before, after = per_request(base, index, args), per_request(ROOT, index, args)
        print(f"{name:54} {before:12,.0f} {after:12,.0f} {after / before:6.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
