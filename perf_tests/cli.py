"""Command line: ``python -m perf_tests {run,validate,schema}``.

``run``       run a scenario file and print the results table (exit 0 passed, 1 failed, 2 bad input).
``validate``  check scenario files without running them.
``schema``    print (or write) the JSON Schema of scenario files, for editors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from perf_tests.errors import PerfTestsError

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
    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("files", nargs="+", help="scenario files (paths or names in test_data/scenarios/)")
    validate.add_argument("--data-dir", type=Path, default=Path("test_data"))
    schema = commands.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.files, args.data_dir)
        if args.command == "schema":
            return _schema(args.output)
        return _run(args.scenario, args.results_dir, args.data_dir)
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


def _run(scenario: str | None, results_dir: Path | None, data_dir: Path) -> int:
    from perf_tests.session.session import PerfSession

    session = PerfSession(scenario=scenario, data_dir=data_dir.resolve(), results_dir=results_dir)
    session.scenario  # noqa: B018 - validate before anything starts
    outcome = session.run()
    print(outcome.table())
    print(f"results: {outcome.results_dir}")
    if not outcome.passed:
        print(outcome.failure_message(), file=sys.stderr)
        return EXIT_FAILED
    return 0
