"""``python -m perf_tests stack up|down|report``: one entry's stack from a Tekton Task (or a shell).

``up``      deploy the ``stack`` of one scenario entry (``--entry NAME``, after matrix expansion; ``--set
            stack.replicas=2`` overrides a field, as a Tekton param does), wait until ready, write the state
            (``--state``: the options and the ``StackRecord``, what was created) and the URL (``--url-file``,
            a Tekton result) and leave it running. Ctrl-C or a failure tears down what was created.
``down``    delete exactly what the state file says was created (idempotent: what is gone is skipped).
``report``  the llm-d universal report of a GuideLLM JSON report, with the stack of the state file.
``run``     the whole entry in one process, as a laptop runs it: deploy (with the ``--set`` overrides), load
            with GuideLLM, record, tear down (``--results-dir``); the Tekton matrix example's one step.

The same ``KubernetesStack`` runs here as in a scenario run, so a laptop run and a Tekton pipeline deploy
the same objects. ``local-vllm`` lives only as long as its process: run it from a scenario instead.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from perf_tests.errors import ConfigurationError
from perf_tests.stack.kubernetes import KubernetesStack
from perf_tests.stack.options import StackOptions
from perf_tests.stack.record import StackRecord

__all__ = ["StackState", "add_stack_parser", "run_stack_command"]


class StackState(BaseModel):
    """What ``stack up`` leaves for ``stack down`` and ``stack report``."""

    entry: str
    options: StackOptions
    record: StackRecord


def add_stack_parser(commands: Any) -> None:
    """Add ``stack up|down|report`` to the framework's command line."""
    stack = commands.add_parser("stack", help="deploy or tear down one entry's stack (Tekton Tasks use this)")
    actions = stack.add_subparsers(dest="stack_command", required=True)
    up = actions.add_parser("up", help="deploy the stack of one entry, wait until ready, leave it running")
    up.add_argument("scenario", help="scenario file (path or name in test_data/scenarios/)")
    up.add_argument("--entry", required=True, help="the entry's name (as expanded, e.g. 'serve[stack.replicas=2]')")
    up.add_argument("--set", action="append", default=[], metavar="stack.FIELD=JSON",
                    help="override a stack field, e.g. stack.replicas=2 or stack.args='[\"--max-num-seqs\",\"8\"]'")
    up.add_argument("--data-dir", type=Path, default=Path("test_data"))
    up.add_argument("--state", type=Path, default=Path("stack-state.json"), help="where to write the state")
    up.add_argument("--url-file", type=Path, help="also write the stack's URL here (a Tekton result)")
    down = actions.add_parser("down", help="delete what `stack up` created")
    down.add_argument("--state", type=Path, default=Path("stack-state.json"))
    run = actions.add_parser("run", help="deploy, load, record and tear down one entry (with --set overrides)")
    run.add_argument("scenario")
    run.add_argument("--entry", required=True)
    run.add_argument("--set", action="append", default=[], metavar="stack.FIELD=JSON")
    run.add_argument("--data-dir", type=Path, default=Path("test_data"))
    run.add_argument("--results-dir", type=Path, help="results directory (default: results/<timestamp>)")
    report = actions.add_parser("report", help="universal report of a GuideLLM report with the recorded stack")
    report.add_argument("scenario")
    report.add_argument("--entry", required=True)
    report.add_argument("--data-dir", type=Path, default=Path("test_data"))
    report.add_argument("--state", type=Path, default=Path("stack-state.json"))
    report.add_argument("--guidellm", type=Path, required=True, help="GuideLLM's JSON report")
    report.add_argument("--output-dir", type=Path, default=Path("."))


def _entry(scenario: str, name: str, data_dir: Path) -> Any:
    from perf_tests.models.scenario_file import load_scenario
    from perf_tests.runners.registry import options_models

    loaded = load_scenario(scenario, options_models(), data_dir.resolve())
    for entry in loaded.entries:
        if entry.name == name:
            return entry
    names = ", ".join(entry.name for entry in loaded.entries)
    raise ConfigurationError(f"--entry {name!r}: no such entry in {loaded.path}; entries: {names}")


def _options(entry: Any, overrides: list[str]) -> StackOptions:
    stack = getattr(entry, "stack", None)
    if stack is None:
        raise ConfigurationError(f"entry {entry.name!r} has no stack block")
    data = stack.model_dump(mode="json", by_alias=True)
    for override in overrides:
        key, sep, raw = override.partition("=")
        field = key.strip().removeprefix("stack.")
        if not sep or not field:
            raise ConfigurationError(f"--set {override!r}: give stack.FIELD=VALUE (VALUE as JSON, or plain text)")
        try:
            data[field] = json.loads(raw)
        except ValueError:
            data[field] = raw
    try:
        return StackOptions.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"--set: the stack of {entry.name!r} does not validate: {problems}") from None


def _read_state(path: Path) -> StackState:
    try:
        return StackState.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"--state {path}: cannot be read ({exc.strerror or exc}); run `stack up` first") \
            from None
    except ValidationError as exc:
        raise ConfigurationError(f"--state {path}: not a stack state file ({exc.error_count()} problems)") from None


def _write_state(path: Path, state: StackState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(state.model_dump_json(indent=2, by_alias=True) + "\n", encoding="utf-8")


def run_stack_command(args: argparse.Namespace) -> int:
    """Run ``stack up``, ``down`` or ``report``; the exit code."""
    if args.stack_command == "down":
        state = _read_state(args.state)
        stack = KubernetesStack(state.options, state.entry)
        stack.teardown(state.record)
        _write_state(args.state, state)
        print(f"deleted {len(state.record.deleted)} object(s) of stack {state.record.name}")
        return 0
    entry = _entry(args.scenario, args.entry, args.data_dir)
    if args.stack_command == "run":
        return _run_entry(entry, _options(entry, args.set), args.data_dir, args.results_dir)
    if args.stack_command == "report":
        return _report(entry, _read_state(args.state), args.guidellm, args.output_dir)
    options = _options(entry, args.set)
    if options.kind != "kubernetes":
        raise ConfigurationError("`stack up` deploys kind kubernetes; a local-vllm stack lives only as long as its "
                                 "process: run the scenario (python -m perf_tests run) instead")
    stack = KubernetesStack(options, entry.name)
    stack.check()
    try:
        url = stack.start()
    except BaseException:
        try:
            stack.stop()
        finally:
            if stack.record is not None:
                _write_state(args.state, StackState(entry=entry.name, options=options, record=stack.record))
        raise
    assert stack.record is not None
    _write_state(args.state, StackState(entry=entry.name, options=options, record=stack.record))
    if args.url_file is not None:
        args.url_file.write_text(url, encoding="utf-8")
    print(f"stack {stack.name} ready at {url} (state: {args.state})")
    return 0


def _run_entry(entry: Any, options: StackOptions, data_dir: Path, results_dir: Path | None) -> int:
    """Run one entry, with its stack as overridden, from the test start, through the framework's session."""
    import tempfile

    from perf_tests.models.scenario_file import entries_json
    from perf_tests.session.session import PerfSession

    (data,) = entries_json([entry])
    data.update(startTime="0s", stack=options.model_dump(mode="json", by_alias=True, exclude_none=True))
    with tempfile.TemporaryDirectory(prefix="perf-stack-") as folder:
        scenario = Path(folder) / "entry.json"
        scenario.write_text(json.dumps([data], indent=2) + "\n", encoding="utf-8")
        outcome = PerfSession(scenario=scenario, data_dir=data_dir.resolve(), results_dir=results_dir,
                              results_dir_source="--results-dir").run()
    print(outcome.table())
    print(f"results: {outcome.results_dir}")
    return 0 if outcome.passed else 1


def _report(entry: Any, state: StackState, guidellm: Path, output_dir: Path) -> int:
    import time

    from perf_tests.llm.results.merging import summarize
    from perf_tests.llm.results.parsing import load_report
    from perf_tests.llm.results.universal_report import build_universal_report, write_universal_report
    from perf_tests.stack.record import universal_stack

    report = load_report(guidellm)
    results = summarize([report])
    universal = build_universal_report(entry, results, run_id=state.record.name, tool_version=report.guidellm_version,
                                       commands=[], target=state.record.url or "",
                                       stack=universal_stack(state.record, time.time()))
    paths = write_universal_report(universal, output_dir)
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0

