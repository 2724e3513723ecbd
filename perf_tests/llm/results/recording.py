"""Handing an entry's GuideLLM results to the recorder, and where its files go.

GuideLLM's statistics become one ``MetricsRecord`` per metric name (``ttft``, ``itl``, ``tpot``,
``request_latency``, ``request_scheduled_latency``, ``requests``, ``output_tokens``, ``prompt_tokens``),
so summaries, thresholds (``p99(ttft) < 1s``) and reports read them like any other operation. Every
request of GuideLLM's report is also replayed as an ``llm_request`` operation through a
``PerSecondAggregator`` (per-second aggregates): its start, latency, outcome and lateness (actual minus
targeted start), which gives the per-second timeline and the failure count of the default verdict.
Requests GuideLLM cancelled at the end of the load are counted as ``incomplete``, not as failures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from perf_tests.llm.results.merging import MergedLlmResults
from perf_tests.llm.results.parsing import FELL_BEHIND_WARNINGS, GuidellmWarning, RequestRecord
from perf_tests.recorder.events import EventHook, MetricsRecord
from perf_tests.recorder.per_second import PerSecondAggregator

__all__ = [
    "REQUEST_OPERATION",
    "classify_request_error",
    "entry_results_dir",
    "first_errors",
    "record_request",
    "record_results",
    "safe_name",
    "warning_notes",
]

REQUEST_OPERATION = "llm_request"
SOURCE = "guidellm"


def safe_name(name: str) -> str:
    """A file-system-safe version of an entry name (``LLM_LOAD#0[rate=1]`` -> ``LLM_LOAD_0_rate_1``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "entry"


def entry_results_dir(results_dir: Path, entry_name: str) -> Path:
    """``<results_dir>/<entry name sanitized>/``: GuideLLM's files and the universal report of an entry."""
    return results_dir / safe_name(entry_name)


_HTTP_STATUS = (
    re.compile(r"\bhttp[ /]?(?:status )?([1-5]\d\d)\b"),  # the launcher's "HTTP 400 Bad Request from ..."
    re.compile(r"\berror '([1-5]\d\d) "),  # httpx's "Client error '400 Bad Request' for url ..."
    re.compile(r"\bstatus(?: code)?[ :=]{1,3}([1-5]\d\d)\b"),
)


def classify_request_error(error: str | None) -> str:
    """A short, countable error type for a failed request (``http_400``, ``timeout``, ``connection`` ...).

    The status comes from the words around it, never from a URL (``http://127.0.0.1`` is no ``http_127``).
    """
    text = (error or "").lower()
    for pattern in _HTTP_STATUS:
        match = pattern.search(text)
        if match:
            return f"http_{match.group(1)}"
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if "connect" in text or "refused" in text or "reset" in text:
        return "connection"
    if "cancel" in text:
        return "cancelled"
    return "error"


def record_results(hook: EventHook, scenario: str, mode: str, results: MergedLlmResults, now: float,
                   replay_requests: bool = True, source: str = SOURCE,
                   not_measured: Mapping[str, str] | None = None) -> None:
    """Fire the entry's ``MetricsRecord``s and (unless they were recorded live, ``perf_tests.llm.results.live``)
    replay its requests as ``llm_request`` operations.

    ``source`` is the harness that measured them; ``not_measured`` (metric -> "not measured by <harness>")
    fires a record holding only that reason for each metric the harness does not measure, so a threshold
    on it fails with the reason and a report shows it, never a zero."""
    metrics = results.metrics()
    for name, stats in metrics.items():
        hook.fire(MetricsRecord(scenario, mode, name, now, stats, source=source))
    for name, reason in (not_measured or {}).items():
        if name not in metrics:
            hook.fire(MetricsRecord(scenario, mode, name, now, {"not_measured": reason}, source=source))
    if not replay_requests:
        return
    stream = PerSecondAggregator(hook, scenario, mode)
    for request in results.requests:
        record_request(stream, request)
    stream.flush()


def record_request(stream: PerSecondAggregator, request: RequestRecord) -> None:
    """One GuideLLM request as an ``llm_request`` attempt (``incomplete`` ones are counted, not attempts)."""
    start = request.start if request.start is not None else request.targeted_start
    if start is None:
        return
    if request.status == "incomplete":
        stream.count(REQUEST_OPERATION, "incomplete", at=start)
        return
    duration = request.latency
    if duration is None:
        duration = (request.end - start) if request.end is not None else 0.0
    ok = request.status == "successful"
    lateness = request.lateness
    stream.record(
        REQUEST_OPERATION,
        start,
        max(0.0, duration),
        ok,
        None if ok else classify_request_error(request.error),
        None if ok else request.error,
        values={"lateness": lateness} if lateness is not None else None,
    )


def first_errors(results: MergedLlmResults) -> dict[str, tuple[int, str]]:
    """Per error type of the failed requests: how many, and the first one's error (as GuideLLM recorded it)."""
    found: dict[str, tuple[int, str]] = {}
    for request in results.requests:
        if request.status != "errored":
            continue
        kind = classify_request_error(request.error)
        count, first = found.get(kind, (0, request.error or ""))
        found[kind] = (count + 1, first)
    return found


def warning_notes(warnings: Iterable[GuidellmWarning]) -> list[str]:
    """One note per distinct GuideLLM warning, saying when the generator (not the target) fell behind."""
    notes: list[str] = []
    for warning in warnings:
        meaning = FELL_BEHIND_WARNINGS.get(warning.code)
        if meaning:
            note = (f"GuideLLM warning {warning.code}: {meaning}, so the target saw less load than planned: "
                    f"{warning.message}")
        else:
            note = f"GuideLLM warning {warning.code}: {warning.message} {warning.note}".strip()
        if note not in notes:
            notes.append(note)
    return notes
