"""LLM_LOAD's local executor against a bare ``guidellm run`` with the same arguments, on one mock server.

    .venv/bin/python bench/bench_llm_load.py [--rate 10] [--seconds 30] [--rounds 2] [--ttft-ms 200]

Each round runs one LLM_LOAD entry the way a test run does (scenario loader, ``Scheduler``, runner,
local executor, launcher with its start hold) and then ``guidellm run`` directly with the identical
arguments and environment (only the report path differs), alternating which goes first. Both load the
same ``guidellm mock-server``. Compared from GuideLLM's own reports: the achieved request rate
(``requests_per_second``) and the p50 time to first token. The framework passes when both are within
2% of the bare run (means over the rounds); the exit code says so. Results go to
``bench/out/llm_load/<time>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perf_tests.config.settings import Settings  # noqa: E402 - after the path set-up
from perf_tests.llm.assets.tokenizer import default_tokenizer  # noqa: E402
from perf_tests.llm.command import build_command  # noqa: E402
from perf_tests.llm.mock_server import MockServer  # noqa: E402
from perf_tests.llm.options import MockServerOptions  # noqa: E402
from perf_tests.llm.plan import plan_launches  # noqa: E402
from perf_tests.llm.results.recording import entry_results_dir  # noqa: E402
from perf_tests.models.scenario_file import build_scenario  # noqa: E402
from perf_tests.recorder import EventHook, Recorder  # noqa: E402
from perf_tests.runners.context import RunContext  # noqa: E402
from perf_tests.runners.llm_load import LlmLoadOptions, LlmLoadRunner  # noqa: E402
from perf_tests.runners.registry import options_models  # noqa: E402
from perf_tests.scheduler import Clock, Scheduler  # noqa: E402

TOLERANCE = 0.02


def guidellm_numbers(report_path: Path) -> dict[str, float]:
    """Achieved rate, p50 TTFT and p50 latency from a GuideLLM JSON report (read directly)."""
    benchmark = json.loads(report_path.read_text(encoding="utf-8"))["benchmarks"][0]
    metrics = benchmark["metrics"]
    return {
        "rate": metrics["requests_per_second"]["successful"]["mean"],
        "ttft_p50_ms": metrics["time_to_first_token_ms"]["successful"]["percentiles"]["p50"],
        "latency_p50_ms": metrics["request_latency"]["successful"]["percentiles"]["p50"] * 1000,
        "successful": metrics["request_totals"]["successful"],
        "incomplete": metrics["request_totals"]["incomplete"],
    }


def run_llm_load(entry: dict[str, Any], out: Path) -> tuple[dict[str, float], float]:
    """Run the entry through the framework; GuideLLM's numbers and the wall time of the whole run."""
    scenario = build_scenario([entry], options_models(), ROOT / "test_data")
    [options] = scenario.entries
    assert isinstance(options, LlmLoadOptions)
    hook = EventHook()
    hook.add_listener(Recorder())
    context = RunContext(run_id=f"bench-{int(time.time())}", settings=Settings(), events=hook, clock=Clock(),
                         results_dir=out, data_dir=ROOT / "test_data")
    began = time.monotonic()
    [result] = Scheduler([LlmLoadRunner(options, context)], context.clock, threading.Event(),
                         progress_interval=None).run()
    wall = time.monotonic() - began
    if not result.ok:
        raise SystemExit(f"LLM_LOAD run failed: {result.error}")
    return guidellm_numbers(entry_results_dir(out, options.name) / "guidellm.json"), wall


def run_bare(entry: dict[str, Any], out: Path, target_url: str, tokenizer: Path) -> tuple[dict[str, float], float, str]:
    """``guidellm run`` with the arguments and environment the framework builds for the same entry."""
    options = LlmLoadOptions.model_validate(entry)
    [launch] = plan_launches(options)
    out.mkdir(parents=True, exist_ok=True)
    report = out / "guidellm.json"
    command = build_command(options, launch, target_url=target_url, tokenizer=tokenizer, output_path=report)
    program = shutil.which("guidellm", path=str(Path(sys.executable).parent)) or "guidellm"
    began = time.monotonic()
    with (out / "guidellm.log").open("wb") as log:
        code = subprocess.run(command.argv([program]), env={**os.environ, **command.env}, stdout=log,
                              stderr=subprocess.STDOUT, check=False).returncode
    wall = time.monotonic() - began
    if code != 0:
        raise SystemExit(f"bare guidellm run failed with exit code {code}; see {out / 'guidellm.log'}")
    return guidellm_numbers(report), wall, command.shell(["guidellm"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second (constant)")
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration of each run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (framework, bare), order alternating")
    parser.add_argument("--ttft-ms", type=float, default=200.0, help="the mock server's time to first token")
    parser.add_argument("--itl-ms", type=float, default=5.0, help="the mock server's inter-token latency")
    args = parser.parse_args()

    out = ROOT / "bench" / "out" / "llm_load" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = default_tokenizer(out / "tokenizers")
    mock = MockServer(MockServerOptions(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, output_tokens=32),
                      out / "mock-server.log")
    mock.start()
    entry = {"mode": "LLM_LOAD", "name": "bench", "startTime": 0, "runTime": f"{args.seconds}s",
             "targetUrl": mock.url, "tokenizer": str(tokenizer), "rateType": "constant", "rate": args.rate,
             "promptTokens": 64, "outputTokens": 32}
    rows: list[tuple[int, str, dict[str, float], float]] = []
    bare_command = ""
    try:
        for number in range(1, args.rounds + 1):
            order = ("llm_load", "bare") if number % 2 else ("bare", "llm_load")
            for kind in order:
                where = out / f"round{number}-{kind}"
                if kind == "llm_load":
                    numbers, wall = run_llm_load(entry, where)
                else:
                    numbers, wall, bare_command = run_bare(entry, where, mock.url, tokenizer)
                rows.append((number, kind, numbers, wall))
                print(f"round {number} {kind:8s} rate {numbers['rate']:7.3f} req/s  TTFT p50 "
                      f"{numbers['ttft_p50_ms']:7.2f} ms  latency p50 {numbers['latency_p50_ms']:7.2f} ms  "
                      f"ok {numbers['successful']:4.0f}  incomplete {numbers['incomplete']:3.0f}  "
                      f"wall {wall:5.1f} s", flush=True)
    finally:
        mock.stop()

    def mean(kind: str, key: str) -> float:
        return statistics.fmean(numbers[key] for _, k, numbers, _ in rows if k == kind)

    verdicts = []
    summary: dict[str, Any] = {"args": vars(args), "bare_command": bare_command, "rows": [
        {"round": n, "kind": k, **numbers, "wall_s": wall} for n, k, numbers, wall in rows]}
    for key, label in (("rate", "achieved rate (req/s)"), ("ttft_p50_ms", "p50 TTFT (ms)")):
        ours, bare = mean("llm_load", key), mean("bare", key)
        diff = (ours - bare) / bare
        ok = abs(diff) <= TOLERANCE
        verdicts.append(ok)
        summary[key] = {"llm_load": ours, "bare": bare, "diff": diff, "ok": ok}
        print(f"{label:24s} LLM_LOAD {ours:9.3f}  bare {bare:9.3f}  diff {diff:+.2%}  "
              f"{'within' if ok else 'OUTSIDE'} {TOLERANCE:.0%}")
    load = os.getloadavg()[0]
    summary["load_average"] = load
    print(f"load average: {load:.1f} (2 cores shared with other processes)")
    print(f"bare command: {bare_command}")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"results: {out}")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
