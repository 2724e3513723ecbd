"""Command line: ``python -m perf_tests {run,validate,schema,report,compare,summary-schema}``.

``run``             run a scenario file and print the results table (exit 0 passed, 1 failed, 2 bad input).
``validate``        check scenario files without running them.
``schema``          print (or write) the JSON Schema of scenario files, for editors (generated from the models).
``report``          rebuild report.html and summary.csv of a results directory (summary.json too if missing);
                    an ``s3://`` run (``s3://bucket/prefix/<run_id>`` or ``.../latest``) is downloaded first.
``compare``         compare two summary.json files without running anything (exit 1 on regressions); either
                    may be an ``s3://`` reference.
``merge``           merge the results of ``run --shard I/N`` runs into one and judge it (exit 1 failed).

A file that cannot be read as what it should be (scenario, summary.json, events.jsonl, run.json) is one
``error:`` line naming it, and exit code 2.
``summary-schema``  print (or write) the JSON Schema of summary.json, or check summaries against it.
``stack``           ``up|down|report`` one entry's stack (``perf_tests.stack.cli``; the Tekton harness's Tasks).
``local-stack``     start vLLM on CPU (tiny model) and a Prometheus scraping it, run a command, stop both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from perf_tests.errors import ConfigurationError, PerfTestsError

if TYPE_CHECKING:
    from perf_tests.session.session import CompletedRun

__all__ = ["main"]

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf_tests", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a scenario file and print the results")
    run.add_argument("scenario", nargs="?", help="scenario file (default: $SCENARIO_FILE_NAME or smoke.json)")
    run.add_argument("--results-dir", type=Path, help="results directory (default: results/<timestamp>)")
    run.add_argument("--data-dir", type=Path, default=Path("test_data"), help="folder with scenarios/ and "
                     "pipeline_files/")
    run.add_argument("--baseline", help="a previous summary.json, its results directory or an s3:// reference "
                     "(s3://bucket/prefix/latest, .../<run_id>) to compare with (default: $PERF_BASELINE); "
                     "regressions fail the run")
    run.add_argument("--max-regression", help="tolerated change against the baseline, e.g. 10%% (default: "
                     "$PERF_MAX_REGRESSION or 10%%)")
    run.add_argument("--shard", help="run shard I of N of every entry (0-based, e.g. 0/2); merge the shards' "
                     "results directories with 'merge'")
    run.add_argument("--start-at", help="with --shard: the shared start time, epoch seconds, +SECONDS or ISO 8601 "
                     "(default: 5 s from now)")
    run.add_argument("--start-tolerance", type=float, help="with --shard: seconds this shard may reach the "
                     "start late (default 1; run --pods gives its pods SCALE_OUT_START_TOLERANCE); later is refused, "
                     "and fails the merged verdict's shards_on_time check")
    run.add_argument("--barrier", type=Path, help="with --shard: a folder every shard can write; shards meet there "
                     "before the start")
    run.add_argument("--run-id", help="with --shard: the whole run's id, the same on every shard (default: from "
                     "--start-at; give it when the shards' --start-at is relative, e.g. the Job's uid)")
    run.add_argument("--print-result", action="store_true", help="with --shard: print shard.json to stdout between "
                     "markers at the end (how pods hand their results over)")
    run.add_argument("--shard-upload", action="store_true", help="with --shard and PERF_RESULTS_URL: upload this "
                     "shard's results directory to <prefix>/<run-id>/shard-<I>/ for the merge (what run --pods does)")
    run.add_argument("--pods", type=int, help="run the scenario as a Kubernetes Indexed Job of this many shard pods "
                     "(SCALE_OUT_IMAGE, TEKTON_NAMESPACE, KUBECONFIG) and merge their results here")
    merge = commands.add_parser("merge", help="merge shards' results directories into one and judge it")
    merge.add_argument("shard_dirs", nargs="+", type=Path, help="results directories of 'run --shard I/N'")
    merge.add_argument("--out", type=Path, required=True, help="the merged results directory")
    merge.add_argument("--baseline", type=Path, help="a previous summary.json to compare the merged run with")
    merge.add_argument("--max-regression", help="tolerated change against the baseline, e.g. 10%%")
    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("files", nargs="+", help="scenario files (paths or names in test_data/scenarios/)")
    validate.add_argument("--data-dir", type=Path, default=Path("test_data"))
    schema = commands.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    report = commands.add_parser("report", help="rebuild report.html and summary.csv of a results directory")
    report.add_argument("results_dir", help="a run's results directory (with events.jsonl), or an s3:// run "
                        "(s3://bucket/prefix/<run_id>, .../latest/<scenario file>), downloaded first")
    report.add_argument("--download-dir", type=Path, default=Path("results") / "from-s3",
                        help="where an s3:// run is downloaded to (default: results/from-s3/<run_id>)")
    compare = commands.add_parser("compare", help="compare two summary.json files (exit 1 on regressions)")
    compare.add_argument("old", help="the baseline: a summary.json, a results directory or an s3:// reference")
    compare.add_argument("new", help="the run to judge: a summary.json, a results directory or an s3:// reference")
    compare.add_argument("--max-regression", help="tolerated change, e.g. 10%% (default: $PERF_MAX_REGRESSION "
                         "or 10%%)")
    compare.add_argument("--min-samples", type=int, help="attempts an operation needs in both runs (default: "
                         "$PERF_BASELINE_MIN_SAMPLES or 10)")
    compare.add_argument("--floor-ms", type=float, help="latency differences below this are noise (default: "
                         "$PERF_BASELINE_FLOOR_MS or 1)")
    summary_schema = commands.add_parser("summary-schema", help="print the JSON Schema of summary.json")
    summary_schema.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    summary_schema.add_argument("--check", nargs="+", type=Path, metavar="SUMMARY",
                                help="validate these summary.json files instead (needs jsonschema)")
    from perf_tests.stack.cli import add_stack_parser  # the stack harness's commands (stack up|down|report)

    add_stack_parser(commands)
    stack = commands.add_parser("local-stack", help="start vLLM (tiny model) and Prometheus, run a command with "
                                "PROMETHEUS_URL set, stop both (no command: until Ctrl-C)")
    stack.add_argument("--vllm-port", type=int, default=18000, help="vLLM's port on 127.0.0.1 (default 18000)")
    stack.add_argument("--prometheus-port", type=int, default=19090, help="Prometheus' port (default 19090)")
    stack.add_argument("--folder", type=Path, default=Path("results") / "local-stack",
                       help="logs and Prometheus data (default results/local-stack)")
    stack.add_argument("stack_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                       help="what to run while the stack is up")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.files, args.data_dir)
        if args.command == "schema":
            return _schema(args.output)
        if args.command == "report":
            return _report(args.results_dir, args.download_dir)
        if args.command == "compare":
            return _compare(args.old, args.new, args.max_regression, args.min_samples, args.floor_ms)
        if args.command == "summary-schema":
            return _summary_schema(args.output, args.check)
        if args.command == "stack":
            from perf_tests.stack.cli import run_stack_command

            return run_stack_command(args)
        if args.command == "merge":
            return _merge(args.shard_dirs, args.out, args.baseline, args.max_regression)
        if args.command == "local-stack":
            from perf_tests.llm.local_stack import run_local_stack

            command = list(args.stack_command)
            if command[:1] == ["--"]:
                command = command[1:]
            return run_local_stack(command, args.folder.resolve(), args.vllm_port, args.prometheus_port)
        if args.pods is not None:
            return _run_pods(args.scenario, args.results_dir, args.data_dir, args.pods)
        if args.shard is not None:
            return _run_shard(args.scenario, args.results_dir, args.data_dir, args.shard, args.start_at,
                              args.barrier, args.print_result, args.run_id, args.shard_upload,
                              args.start_tolerance)
        return _run(args.scenario, args.results_dir, args.data_dir, args.baseline, args.max_regression)
    except PerfTestsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _validate(files: Sequence[str], data_dir: Path) -> int:
    from perf_tests.models.scenario_file import load_scenario
    from perf_tests.runners.registry import options_models

    failed = 0
    for name in files:
        try:
            scenario = load_scenario(name, options_models(), data_dir.resolve())
        except PerfTestsError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        entries = ", ".join(f"{e.name} ({e.mode}, {e.start_time:g}s+{e.run_time:g}s)" for e in scenario.entries)
        print(f"{scenario.path}: OK, {len(scenario.entries)} entries: {entries}")
    return EXIT_BAD_INPUT if failed else 0


def _schema(output: Path | None) -> int:
    from perf_tests.models.scenario_file import scenario_json_schema
    from perf_tests.runners.registry import options_models

    text = json.dumps(scenario_json_schema(options_models()), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    return 0


def _report(results_dir: str, download_dir: Path) -> int:
    from perf_tests.reports.rebuild import rebuild_reports
    from perf_tests.storage.location import is_s3_url

    local = Path(results_dir)
    if is_s3_url(results_dir):
        from perf_tests.storage.remote import download_run

        local = download_run(results_dir, download_dir)
        print(f"downloaded {results_dir} to {local}")
    files = rebuild_reports(local)
    if files.rebuilt:
        print(f"rebuilt {files.summary} from events.jsonl")
    print(f"wrote {files.html}")
    print(f"wrote {files.csv}")
    return 0


def _compare(old: str, new: str, max_regression: str | None, min_samples: int | None,
             floor_ms: float | None) -> int:
    from perf_tests.baseline import baseline_options, compare_summaries, format_comparisons, load_summary_reference

    options = baseline_options(max_regression, min_samples, floor_ms)
    old_summary, new_summary = load_summary_reference(old, "baseline"), load_summary_reference(new, "run")
    comparisons = compare_summaries(old_summary, new_summary, options)
    print(format_comparisons(comparisons, options, f"baseline {old_summary.run_id or old}",
                             f"run {new_summary.run_id or new}"))
    return EXIT_FAILED if any(c.status == "regression" for c in comparisons) else 0


def _summary_schema(output: Path | None, check: Sequence[Path] | None) -> int:
    from perf_tests.reports.schema import summary_json_schema, validate_summary

    if check:
        failed = 0
        for path in check:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"{path} cannot be read as JSON ({exc})") from None
            problems = validate_summary(document)
            if problems:
                failed += 1
                print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
            else:
                print(f"{path}: valid")
        return EXIT_FAILED if failed else 0
    text = json.dumps(summary_json_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    return 0


def _run_shard(scenario: str | None, results_dir: Path | None, data_dir: Path, shard: str,
               start_at: str | None, barrier: Path | None, print_result: bool = False,
               run_id: str | None = None, upload: bool = False, tolerance: float | None = None) -> int:
    from perf_tests.scaleout.session import ShardSession
    from perf_tests.scaleout.shard import START_AT_TOLERANCE, ShardSpec, parse_shard, parse_start_at

    index, count = parse_shard(shard)
    if tolerance is not None and not 0 <= tolerance <= 3600:
        raise ConfigurationError(f"--start-tolerance {tolerance:g}: give seconds from 0 to 3600")
    tolerance = START_AT_TOLERANCE if tolerance is None else tolerance
    at = parse_start_at(start_at, tolerance=tolerance)
    # Every shard of one run has the same id: derived from the shared start time.
    import zlib
    from datetime import UTC, datetime

    seed = int(at * 1000) % 2**31
    if run_id:
        seed = zlib.crc32(run_id.encode("utf-8")) % 2**31  # the same on every shard, like the run id
    else:
        run_id = datetime.fromtimestamp(at, UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    spec = ShardSpec(index=index, count=count, start_at=at, run_id=run_id, seed=seed,
                     barrier=str(barrier) if barrier else None, upload=upload, start_tolerance=tolerance)
    session = ShardSession(spec, scenario=scenario, data_dir=data_dir.resolve(), results_dir=results_dir,
                           results_dir_source="--results-dir")
    session.scenario  # noqa: B018 - validate before anything starts
    outcome = session.run()
    print(outcome.table())
    print(f"shard {spec.label} results: {outcome.results_dir} (merge them with 'python -m perf_tests merge')")
    if print_result and session.result is not None:
        from perf_tests.scaleout.result import SHARD_FILE_NAME
        from perf_tests.tekton.logs import format_report_block

        print(format_report_block(session.result.model_dump_json().encode("utf-8"), SHARD_FILE_NAME), end="")
    sys.stdout.flush()
    return 0 if session.result is not None and not outcome.results_error else EXIT_FAILED


def _run_pods(scenario: str | None, results_dir: Path | None, data_dir: Path, pods: int) -> int:
    import signal

    from perf_tests.config.settings import PrometheusSettings
    from perf_tests.models.scenario_file import load_scenario
    from perf_tests.runners.registry import options_models
    from perf_tests.scaleout.kube import JobClient, PodsRun, ScaleOutSettings, shard_folders
    from perf_tests.scaleout.merge import merge_results
    from perf_tests.scaleout.upload import upload_merged
    from perf_tests.scheduler.stop import StopToken
    from perf_tests.session.session import new_run_id
    from perf_tests.storage.uploader import ResultsUploader
    from perf_tests.tekton.settings import load_tekton_settings

    if pods < 1:
        raise ConfigurationError(f"--pods {pods}: give at least 1 pod")
    loaded = load_scenario(scenario or os.environ.get("SCENARIO_FILE_NAME") or "smoke.json", options_models(),
                           data_dir.resolve())
    if loaded.path is None:
        raise ConfigurationError("--pods needs a scenario file")
    uploader = ResultsUploader.from_environment()  # PERF_RESULTS_URL; a bad setting fails before any pod
    prometheus = PrometheusSettings()  # PROMETHEUS_*: queried here over the merged windows
    client = JobClient.connect(load_tekton_settings())
    abort = StopToken()
    previous = signal.signal(signal.SIGTERM, lambda *_: abort.set("interrupted (SIGTERM)"))
    run_id = new_run_id()  # the merged run's, and each pod's --run-id
    run = PodsRun(client, loaded.path, pods, ScaleOutSettings(), abort, run_id=run_id, uploader=uploader)
    try:
        try:
            results = run.run()
        except KeyboardInterrupt:
            abort.set("interrupted (SIGINT)")
            client.delete_job(run.name)
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        client.close()
    root = (results_dir or Path.cwd() / "results" / run_id).resolve()
    folders, note = shard_folders(results, root, uploader, run_id)
    outcome = merge_results(results, root, shard_dirs=folders, prometheus=prometheus, events_note=note)
    upload_merged(uploader, outcome)
    return _print_merged(outcome)


def _merge(shard_dirs: Sequence[Path], out: Path, baseline: Path | None, max_regression: str | None) -> int:
    from perf_tests.baseline import Baseline, baseline_options, load_baseline_settings
    from perf_tests.config.settings import PrometheusSettings
    from perf_tests.scaleout.merge import merge_results
    from perf_tests.scaleout.result import read_shard_result
    from perf_tests.scaleout.upload import upload_merged
    from perf_tests.storage.uploader import ResultsUploader

    uploader = ResultsUploader.from_environment()  # PERF_RESULTS_URL; a bad setting fails before the merge
    prometheus = PrometheusSettings()  # PROMETHEUS_*: the merge queries it over the merged windows
    results = [read_shard_result(path) for path in shard_dirs]
    options = baseline_options(max_regression) if max_regression is not None else load_baseline_settings().options()
    judge = Baseline(baseline, options) if baseline is not None else None
    outcome = merge_results(results, out.resolve(), judge, shard_dirs=list(shard_dirs), prometheus=prometheus)
    upload_merged(uploader, outcome)
    return _print_merged(outcome)


def _print_merged(outcome: CompletedRun) -> int:
    """Print a merged run (``run --pods``, ``merge``): its table, one line per shard, where its results are and
    why it failed; its exit code."""
    from perf_tests.scaleout.merge import shard_lines

    print(outcome.table())
    for line in shard_lines(outcome.document):
        print(line)
    print(f"results: {outcome.results_dir}")
    upload_failed = _print_upload(outcome)
    if not outcome.passed:
        print(outcome.failure_message(), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if upload_failed else 0


def _print_upload(outcome: CompletedRun) -> bool:
    """Say what the upload of ``PERF_RESULTS_URL`` did; True when it fails the run (``PERF_UPLOAD_REQUIRED``)."""
    if outcome.upload is not None:
        print(outcome.upload.describe(), file=sys.stdout if outcome.upload.ok else sys.stderr)
    if outcome.upload_failed:
        print("the run fails because its results could not be uploaded (PERF_UPLOAD_REQUIRED=true)", file=sys.stderr)
    return outcome.upload_failed


def _run(scenario: str | None, results_dir: Path | None, data_dir: Path, baseline: str | None = None,
         max_regression: str | None = None) -> int:
    from perf_tests.baseline import baseline_options
    from perf_tests.session.session import PerfSession

    options = baseline_options(max_regression) if max_regression is not None else None
    session = PerfSession(scenario=scenario, data_dir=data_dir.resolve(), results_dir=results_dir,
                          baseline=baseline, baseline_options=options, results_dir_source="--results-dir")
    session.scenario  # noqa: B018 - validate before anything starts
    outcome = session.run()
    print(outcome.table())
    print(f"results: {outcome.results_dir}")
    if outcome.summary_written:
        print(f"report: {outcome.results_dir / 'report.html'}")
    code = 0
    if not outcome.passed:
        print(outcome.failure_message(), file=sys.stderr)
        code = EXIT_FAILED
    if _print_upload(outcome):
        code = EXIT_FAILED
    if outcome.hung:
        # A hung entry's thread is still blocked; interpreter shutdown would wait for it (executor threads
        # are joined at exit), so leave now that everything is written and reported.
        print(f"exiting although {', '.join(outcome.hung)} did not stop (reported as hung)", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or EXIT_FAILED)
    return code
