"""LLM_LOAD: load an OpenAI-compatible LLM server with a harness (GuideLLM by default, vLLM's benchmark or
inference-perf: the entry's ``harness``, ``perf_tests.llm.harnesses``) and record what it measured.

The entry's fields are ``perf_tests.llm.options.LlmLoadFields`` (target, model, tokenizer, rate type
and rate or stages, limits, data, pass-through arguments, mock settings). Lifecycle:

1. ``prepare``: check GuideLLM, start (or share) the embedded mock target when there is no
   ``targetUrl`` or check that the target answers, build the default tokenizer if none is given, plan
   the GuideLLM processes (one, or one per stair-step layer), build their commands
   (``command.txt``) and let the executor launch them ahead of the start time; they hold until it.
2. ``run``: the executor waits for every process; each ends its load at its end and writes its JSON
   report. The runner parses the reports, fires one ``MetricsRecord`` per metric and replays every
   request as ``llm_request``, notes GuideLLM's warnings and late starts, and writes the llm-d universal
   report (``benchmark_report.yaml``/``.json``). A failed process is an error naming the reason. The
   load's own window (each process from its actual start for its planned length, or to its last answer when
   later; a Tekton copy's own start and end) is marked (``load_started``/``load_finished``): the entry's
   rates are per second of it, not of the entry's window with the stack's deployment and start-up.
3. ``cleanup``: stop whatever still runs; release the mock server.

With a ``stack`` block (``perf_tests.stack``), ``prepare`` only checks the stack can be deployed;
``run`` (at the start time, after the previous combination's stack is gone when a matrix expanded the
entry) deploys it, waits until it is ready, plans the GuideLLM processes against its URL with the load
window starting ``startupLead`` later and then runs them as above; ``cleanup`` tears the stack down (also
after a failure or Ctrl-C) and records it (``stack.json``, ``attrs.stack`` in summary.json, and the
universal report's ``scenario.stack`` and ``results.observability``).

While the load runs, each request GuideLLM finishes is recorded at once (``perf_tests.llm.results.live``), so a
stopped or killed run keeps the requests that finished; GuideLLM's statistics come from its report.

Files of an entry: ``<results_dir>/<entry name sanitized>/`` holds ``command.txt``, GuideLLM's
``guidellm[-n].json`` and ``.log``, ``guidellm[-n].requests.jsonl`` (its requests as they finished),
``metrics.json`` (our parsed metrics) and the universal report.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Literal

import urllib3

from perf_tests.errors import RunnerError, TargetError
from perf_tests.llm.assets.tokenizer import default_tokenizer
from perf_tests.llm.executors.executor import Executor, LaunchSpec, ProcessExit
from perf_tests.llm.executors.registry import EXECUTORS
from perf_tests.llm.harnesses import HARNESSES, Harness
from perf_tests.llm.health import health_status
from perf_tests.llm.mock_server import MockServer, shared_mock_servers
from perf_tests.llm.options import HUB_TOKENIZER_PREFIX, LlmLoadFields
from perf_tests.llm.process.children import log_tail
from perf_tests.llm.process.diagnostics import hold_report
from perf_tests.llm.results.live import LiveRequests
from perf_tests.llm.results.merging import MergedLlmResults, summarize
from perf_tests.llm.results.parsing import GuidellmReport
from perf_tests.llm.results.recording import entry_results_dir, first_errors, record_results, warning_notes
from perf_tests.llm.results.universal_report import (
    build_universal_report,
    validate_universal_report,
    write_universal_report,
)
from perf_tests.llm.version import check_guidellm
from perf_tests.logger.redaction import redact
from perf_tests.models.scenario import EntryFiles
from perf_tests.recorder.events import LOAD_FINISHED, LOAD_STARTED
from perf_tests.runners.base_runner import BaseRunner
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import register
from perf_tests.stack.factory import build_stack
from perf_tests.stack.record import universal_stack
from perf_tests.stack.sequence import stack_sequence
from perf_tests.stack.stack import Stack

__all__ = ["LlmLoadOptions", "LlmLoadRunner"]

TOKENIZER_CACHE = "llm-cache/tokenizers"
"""Where the default tokenizer is built, under the run's results directory."""
_LATE_NOTE = 0.5  # seconds: a later start than this is noted


class LlmLoadOptions(LlmLoadFields):
    """Options of an LLM_LOAD entry (camelCase in scenario files); the fields are ``LlmLoadFields``'."""

    mode: Literal["LLM_LOAD"] = "LLM_LOAD"


@register
class LlmLoadRunner(BaseRunner[LlmLoadOptions]):
    """Runs an LLM_LOAD entry through its executor (see the module docstring)."""

    options_model = LlmLoadOptions
    needs_kfp = False

    def __init__(self, entry: LlmLoadOptions, context: RunContext) -> None:
        super().__init__(entry, context)
        self.entry_dir = entry_results_dir(context.results_dir, entry.name)
        self.load_offset = entry.start_time  # when the load starts (later with a stack: once it is ready)
        self.executor: Executor = self._executor(entry.start_time)
        self.stack: Stack | None = (build_stack(entry.stack, entry.name, self.entry_dir)
                                    if entry.stack is not None else None)
        self._stack_deadline: float | None = None  # latest end while the stack deploys (seconds after t0)
        self._stack_loaded = False
        # run() begins this early to launch GuideLLM in time; with a stack it begins at the start (to deploy)
        self.lead_time = self.executor.lead_time if self.stack is None else 0.0
        self.harness: Harness = HARNESSES.get(entry.harness)()
        self.tool_version = ""
        self.mock: MockServer | None = None
        self.specs: list[LaunchSpec] = []
        self.target = ""
        self.copy_windows: list[tuple[str, tuple[float, float]]] = []  # Tekton copies' own load windows
        self.guidellm_version = ""
        self.results: MergedLlmResults | None = None
        self.live_requests = 0  # requests recorded while the load ran (perf_tests.llm.results.live)
        self.load_windows: list[tuple[float, float]] = []  # each process's load, wall clock (start, end)

    def _executor(self, load_offset: float) -> Executor:
        """The entry's executor for a load window starting ``load_offset`` seconds after t0."""
        entry, context = self.entry, self.context
        executor = EXECUTORS.get(entry.executor)(
            context.clock,
            entry_start_offset=load_offset,
            entry_end_offset=load_offset + entry.run_time,
            startup_lead=entry.startup_lead,
            abort=context.abort,
            stopping=self.stopping,
        )
        executor.bind(entry, context.run_id, self.emit)
        return executor

    # -- lifecycle ----------------------------------------------------------------------------------
    def prepare(self) -> None:
        entry = self.entry
        self.entry_dir.mkdir(parents=True, exist_ok=True)
        if entry.uses_mock or (entry.executor == "local" and entry.harness == "guidellm"):
            self.guidellm_version = check_guidellm()  # the mock target is GuideLLM's mock-server
        if entry.executor == "local":
            self.tool_version = self.harness.check()
        self._check_files()
        if self.stack is not None:
            self.stack.check()  # deployed at the start time, in run()
            self.target = f"stack {entry.stack.kind if entry.stack else ''} (deployed at the entry's start)"
            self.mark("note", message=f"target: {self.target}", attrs={"results": str(self.entry_dir)})
            return
        self._plan(self._resolve_target(), entry.start_time)
        self.executor.prepare(self.specs)

    def _plan(self, target_url: str, load_offset: float) -> None:
        """Plan the GuideLLM processes against ``target_url`` for a load starting ``load_offset`` after t0."""
        entry = self.entry
        tokenizer = self._resolve_tokenizer()
        launches = self.harness.plan(entry)
        self.specs = [
            LaunchSpec(
                launch=launch,
                command=self.harness.build(
                    entry, launch, target_url=target_url, tokenizer=tokenizer,
                    output_path=self.harness.output_path(self.entry_dir, launch), data_path=entry.data_path,
                ),
                start_offset=load_offset + launch.start,
                end_offset=load_offset + launch.end,
                report_path=self.harness.output_path(self.entry_dir, launch),
                log_path=self.entry_dir / f"{launch.label}.log",
            )
            for launch in launches
        ]
        for spec in self.specs:
            for path, text in spec.command.files.items():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_text(text, encoding="utf-8")
        commands = "".join(
            f"# {spec.name}: load from {spec.start_offset:g}s to {spec.end_offset:g}s after the test start\n"
            f"{spec.command.shell()}\n"
            for spec in self.specs
        )
        (self.entry_dir / "command.txt").write_text(redact(commands), encoding="utf-8")
        tool = self.harness.name
        self.mark("note", message=f"target: {self.target}; {len(self.specs)} {tool} process(es)",
                  attrs={"target": self.target, "guidellm": self.guidellm_version or None,
                         "harness": tool, "harness_version": self.tool_version or None,
                         f"{tool.replace('-', '_')}_processes": len(self.specs), "results": str(self.entry_dir)})

    def _deploy_stack(self) -> bool:
        """Deploy the stack (after the previous combination's), plan the load against it; False when stopped."""
        assert self.stack is not None
        entry, clock = self.entry, self.context.clock
        if entry.stack_after is not None:
            self.log.info("waiting for the stack of %s to be torn down", entry.stack_after)
            if not stack_sequence.wait(self.context.run_id, entry.stack_after, self.stopping.event):
                return False
        assert entry.stack is not None
        began = clock.elapsed()
        self._stack_deadline = (began + entry.stack.ready_timeout + entry.startup_lead + entry.run_time
                                + self.executor.end_extension)
        url = self.stack.start(cancel=self.stopping.event)
        record = self.stack.record
        seconds = record.ready_seconds if record is not None else None
        self.mark("note", message=f"stack {self.stack.name} ready at {url}"
                  + (f" after {seconds:.1f}s" if seconds is not None else ""),
                  attrs={"stack_ready_s": round(seconds, 3) if seconds is not None else None})
        self.load_offset = clock.elapsed() + entry.startup_lead  # GuideLLM's start-up, then the load
        self.executor = self._executor(self.load_offset)
        self._plan(self._resolve_target(url), self.load_offset)
        self._stack_loaded = True
        self.executor.prepare(self.specs)
        return True

    def run(self) -> None:
        if self.stack is not None and not self._deploy_stack():
            self.mark("note", message="stopped while waiting for the previous stack to be torn down")
            return
        live = None
        if self.entry.executor == "local":  # the launcher writes each request as it finishes
            live = LiveRequests(self.context.events, self.entry.name, self.entry.mode,
                                [spec.requests_path for spec in self.specs], clock=self.context.clock)
            live.start()
        try:
            outcomes = self.executor.run()
        finally:  # stopped or failed too: what finished is recorded
            self.live_requests = live.finish() if live is not None else 0
        problems: list[str] = []
        reports: list[GuidellmReport] = []
        self.copy_windows = [(outcome.spec.name, outcome.load_window) for outcome in outcomes
                             if outcome.load_window is not None]
        for outcome in outcomes:
            report = self._report_of(outcome, problems)
            if report is not None:
                reports.append(report)
        if reports:
            self._record(reports)
        elif not problems:
            problems.append(f"no {self.harness.name} report was written")
        if problems:
            raise RunnerError("; ".join(problems))

    def cleanup(self) -> None:
        try:
            self.executor.cleanup()
        finally:
            if self.mock is not None:
                shared_mock_servers.release(self.mock)
                self.mock = None
            if self.stack is not None:
                self._tear_down_stack()

    def _tear_down_stack(self) -> None:
        """Stop the stack (unless ``keep``), record it, and let the next combination deploy."""
        assert self.stack is not None
        try:
            self.stack.stop()
        finally:
            record = self.stack.record
            if record is not None:
                data = record.model_dump(mode="json")
                (self.entry_dir / "stack.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
                # --- stack record into summary.json (attrs.stack of the entry); perf_tests.stack.record ---
                self.mark("note", message=f"stack {record.name} " + ("kept running (keep)" if record.kept else
                          f"torn down: {len(record.deleted)} object(s) deleted" if record.kind == "kubernetes"
                          else "stopped"), attrs={"stack": data})
            stack_sequence.done(self.context.run_id, self.entry.name)

    @property
    def end_offset(self) -> float:
        """The entry's end plus the executor's ``end_extension`` (time for GuideLLM to finish its reports,
        or Tekton's queueing): the scheduler stops the runner then. With a stack: unbounded while waiting for
        the previous stack, then the latest end its ``readyTimeout`` allows, then the load's own end."""
        if self.stack is not None and not self._stack_loaded:
            return self._stack_deadline if self._stack_deadline is not None else float("inf")
        return self.load_offset + self.entry.run_time + self.executor.end_extension

    def progress(self) -> str:
        if self.stack is not None and not self._stack_loaded:
            if self._stack_deadline is None and self.entry.stack_after is not None:
                return f"waiting for the stack of {self.entry.stack_after} to be torn down"
            return f"deploying stack {self.stack.name}, waiting until it is ready"
        return self.executor.progress() or ("running" if self.specs else "preparing")

    # -- prepare helpers ----------------------------------------------------------------------------
    def _check_files(self) -> None:
        """Entries built without the scenario loader resolve their files here (from the data folder)."""
        entry = self.entry
        needs_data = entry.data_file is not None and entry.data_path is None
        needs_tokenizer = (entry.tokenizer is not None and entry.tokenizer_path is None
                           and not entry.tokenizer.startswith(HUB_TOKENIZER_PREFIX))
        if not (needs_data or needs_tokenizer):
            return
        files = EntryFiles(None, self.context.data_dir)
        problems = entry.check_files(files)
        if problems:
            raise RunnerError("; ".join(problems))
        entry.resolve_files(files)

    def _resolve_target(self, stack_url: str | None = None) -> str:
        entry = self.entry
        if stack_url is not None:
            entry.target_url = stack_url  # the executors (Tekton's PipelineRun params) read it from the entry
            self.target = f"{stack_url} (stack {self.stack.name if self.stack else ''})"
            if entry.executor == "local":
                check_target(stack_url)
            return stack_url
        if entry.uses_mock:
            self.mock = shared_mock_servers.acquire(entry.mock, self.entry_dir, cancel=self.stopping.event)
            self.target = self.mock.description
            return self.mock.url
        assert entry.target_url is not None
        self.target = entry.target_url
        if entry.executor != "local":
            return entry.target_url  # reached from the executor's machines (a cluster), not from here
        check_target(entry.target_url, require_health=entry.backend_options.get("validate_backend", True) is not False)
        return entry.target_url

    def _resolve_tokenizer(self) -> str | None:
        entry = self.entry
        if entry.tokenizer is not None and entry.tokenizer.startswith(HUB_TOKENIZER_PREFIX):
            return entry.tokenizer
        if entry.executor != "local":
            return None  # a local folder is of no use elsewhere; GuideLLM loads the model's tokenizer there
        if entry.tokenizer_path is not None:
            return str(entry.tokenizer_path)
        return str(default_tokenizer(self.context.results_dir / TOKENIZER_CACHE))

    # -- run helpers --------------------------------------------------------------------------------
    def _report_of(self, outcome: ProcessExit, problems: list[str]) -> GuidellmReport | None:
        spec = outcome.spec
        if self.entry.secret_values:  # GuideLLM writes request headers into its report (and a Tekton log)
            for path in (spec.report_path, spec.log_path, spec.requests_path):
                scrub_secrets(path)
        report: GuidellmReport | None = None
        if spec.report_path.is_file():
            try:
                report = self.harness.parse(spec.report_path)
            except RunnerError as exc:
                problems.append(f"{spec.name}: {exc}")
        if outcome.error is not None:
            problems.append(f"{spec.name}: {outcome.error} (log: {spec.log_path})")
        planned = self.context.clock.wall_at(spec.start_offset)
        started = report.benchmarks[0].scheduler_start if report and report.benchmarks else None
        if started is None:
            hold = hold_report(log_tail(spec.log_path))
            started = planned + hold.late if hold is not None and hold.late else None
        if started is not None and started - planned > _LATE_NOTE:
            late = started - planned
            self.mark(
                "note",
                message=f"{spec.name}: load started {late:.1f}s after its planned start: {self.harness.name} was not "
                f"ready in time (launched {self.entry.startup_lead:g}s ahead; raise startupLead)",
                attrs={f"{spec.name}_late_s": round(late, 3)},
            )
        if report is not None and report.benchmarks:
            self.load_windows.append(outcome.load_window or self._load_window(spec, report, started or planned))
        return report

    @staticmethod
    def _load_window(spec: LaunchSpec, report: GuidellmReport, started: float) -> tuple[float, float]:
        """One process's load: from its (actual) start for its planned length, or to its last request's end
        when that is later (a harness that answers every request, e.g. vLLM's benchmark). Not GuideLLM's own
        benchmark window, which begins at the first request (a Poisson gap later)."""
        last = max(benchmark.end for benchmark in report.benchmarks)
        return started, max(started + spec.end_offset - spec.start_offset, last)

    def _record(self, reports: list[GuidellmReport]) -> None:
        results = summarize(reports)
        # The load's own window (its processes' first start to last end), not the entry's, which includes the
        # stack's deployment and the harness's start-up: every rate of the entry is per second of this.
        windows = self.load_windows or [(results.start, max(results.start, results.end))]
        load_start, load_end = min(start for start, _ in windows), max(end for _, end in windows)
        self.mark(LOAD_STARTED, at=load_start)
        self.mark(LOAD_FINISHED, at=load_end)
        span = results.end - results.start
        if not self.harness.own_rates and span > 0 and load_end > load_start:
            scale = span / (load_end - load_start)  # rates derived over the requests' span -> over the load
            results = dataclasses.replace(results, request_rate=results.request_rate * scale,
                                          output_token_rate=results.output_token_rate * scale,
                                          prompt_token_rate=results.prompt_token_rate * scale)
        self.results = results
        record_results(self.context.events, self.entry.name, self.entry.mode, results,
                       self.context.clock.wall_now(), replay_requests=not self.live_requests,
                       source=self.harness.name, not_measured=self.harness.not_measured())
        for note in warning_notes(results.warnings):
            self.mark("note", message=note)
        # Count and total from the same list of requests: GuideLLM's request_totals can differ from its
        # per-request list (seen: 7 errored in the totals, 8 errored requests listed).
        attempted = sum(1 for request in results.requests if request.status != "incomplete")
        for kind, (count, first) in first_errors(results).items():
            self.mark("note", message=failure_note(kind, count, max(attempted, count), first),
                      attrs={f"failed_{kind}": count})
        metrics = results.metrics()
        attrs: dict[str, Any] = {}
        if self.entry.stages is not None:
            attrs["stages"] = self._stage_rates(results)
            achieved = ", ".join(f"{s['rate']:g}→{s['achieved']:.3g}" for s in attrs["stages"])
            self.mark("note", message=f"stages (planned→achieved req/s): {achieved}", attrs=attrs)
        (self.entry_dir / "metrics.json").write_text(
            json.dumps({"harness": self.harness.name, "metrics": metrics, "not_measured": self.harness.not_measured(),
                        **attrs, "merged": results.merged}, indent=2) + "\n", encoding="utf-8"
        )
        fallback = self.guidellm_version if self.harness.name == "guidellm" else self.tool_version
        version = next((r.guidellm_version for r in reports if r.guidellm_version != "unknown"),
                       fallback or "unknown")
        stack = self.stack.record if self.stack is not None else None
        universal = build_universal_report(
            self.entry, results, run_id=self.context.run_id, tool_version=version,
            commands=[spec.command for spec in self.specs], target=self.target, tool=self.harness.name,
            stack=universal_stack(stack, self.context.clock.wall_now()) if stack is not None else None,
        )
        write_universal_report(universal, self.entry_dir)
        problems = validate_universal_report(universal)
        if problems:
            self.log.warning("the universal report does not match the llm-d schema v0.2.1: %s", "; ".join(problems))
            self.mark("note", message=f"universal report schema problems: {'; '.join(problems[:3])}")

    def attach_observation(self, observation: Any) -> None:
        """Put the Prometheus series into the universal report's ``results.observability`` (rewritten)."""
        from perf_tests.observability.models import EntryObservation
        from perf_tests.observability.universal import attach_observation

        if not isinstance(observation, EntryObservation):
            return
        try:
            problems = attach_observation(observation, self.entry_dir, self.context.results_dir)
        except (OSError, ValueError) as exc:
            self.log.warning("could not add observability to the universal report: %s", exc)
            return
        if problems:
            self.log.warning("the universal report with observability does not match the llm-d schema "
                             "v0.2.1 (kept without it): %s", "; ".join(problems[:3]))

    def observation_windows(self) -> list[tuple[str, str, float, float]]:
        """One window per stage of a stair-step entry, on the shared clock, and one per Tekton copy from its
        Task's start-time/end-time results."""
        windows = [(f"copy {name}", "copy", begin, end) for name, (begin, end) in self.copy_windows]
        if self.entry.stages is None:
            return windows
        offset = self.load_offset  # the entry's start, or once its stack was ready
        # Named by the whole run's rate: a shard of a scaled-out run runs rate / N, the merge queries the sum.
        shards = self.context.shard.count if self.context.shard is not None else 1
        for number, stage in enumerate(self.entry.stages):
            last = number == len(self.entry.stages) - 1
            end = self.load_offset + self.entry.run_time if last else offset + stage.duration
            windows.append((f"stage {number + 1} ({stage.rate * shards:g}/s)", "stage",
                            self.context.clock.wall_at(offset), self.context.clock.wall_at(end)))
            offset = end
        return windows

    def _stage_rates(self, results: MergedLlmResults) -> list[dict[str, float]]:
        """Each step's planned rate and the rate of request starts GuideLLM achieved in it."""
        assert self.entry.stages is not None
        starts = sorted(r.start for r in results.requests if r.start is not None and r.status != "incomplete")
        out = []
        offset = self.load_offset
        for number, stage in enumerate(self.entry.stages):
            last = number == len(self.entry.stages) - 1
            end = self.load_offset + self.entry.run_time if last else offset + stage.duration
            begin_wall, end_wall = self.context.clock.wall_at(offset), self.context.clock.wall_at(end)
            count = sum(1 for start in starts if begin_wall <= start < end_wall)
            out.append({"rate": stage.rate, "seconds": end - offset, "achieved": count / (end - offset)})
            offset = end
        return out


_NOTE_LIMIT = 300
_EXCEPTION_REPR = re.compile(r"^\w+\((['\"])(.*)\1\)$", re.DOTALL)


def failure_note(kind: str, count: int, total: int, error: str) -> str:
    """``N of M requests failed with <kind>; the first: <its error>`` (the server's message when it sent one),
    redacted before it is cut to a bounded length."""
    text = error.strip()
    match = _EXCEPTION_REPR.match(text)
    if match:  # GuideLLM records repr(exc): HTTPStatusError('HTTP 400 Bad Request from /v1/...: message')
        text = match.group(2).replace("\\n", " ").replace("\\'", "'")
    text = redact(" ".join(text.split())) or "(no message)"
    if len(text) > _NOTE_LIMIT:
        text = text[:_NOTE_LIMIT - 3] + "..."
    return f"{count} of {total} requests failed with {kind}; the first: {text}"


def scrub_secrets(path: Path) -> None:
    """Rewrite ``path`` with every registered secret masked (nothing when it has none or is missing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return
    cleaned = redact(text)
    if cleaned != text:
        scratch = path.with_name(path.name + ".scrub")
        scratch.write_text(cleaned, encoding="utf-8", errors="surrogateescape")
        scratch.replace(path)


def check_target(url: str, require_health: bool = True, timeout: float = 10.0) -> None:
    """``TargetError`` unless ``<url>/health`` answers (GuideLLM checks the same before its first request)."""
    try:
        status = health_status(url, timeout)
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise TargetError(
            f"targetUrl {url} is unreachable ({exc}); check the URL and that the server is running"
        ) from None
    if status >= 400 and require_health:
        raise TargetError(
            f"targetUrl {url} answers HTTP {status} on /health, which GuideLLM requires before it sends "
            "load; check that targetUrl is the server's base URL, or set backendOptions.validate_backend "
            "to false for a server without /health"
        )

