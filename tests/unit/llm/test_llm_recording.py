"""GuideLLM's results reach the recorder as MetricsRecords and a replayed per-request stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_tests.llm.results.merging import summarize
from perf_tests.llm.results.parsing import GuidellmWarning, load_report
from perf_tests.llm.results.recording import (
    classify_request_error,
    entry_results_dir,
    record_results,
    safe_name,
    warning_notes,
)
from perf_tests.logger.redaction import register_secret
from perf_tests.recorder import EventHook, MetricsRecord, Recorder
from perf_tests.results import ScenarioPart
from perf_tests.runners.llm_load import failure_note
from perf_tests.thresholds import parse_threshold
from perf_tests.thresholds.evaluate import measure

REPORT = Path(__file__).resolve().parents[3] / "test_data" / "llm" / "guidellm_report_constant.json"


def test_metrics_and_requests_reach_the_recorder() -> None:
    hook = EventHook()
    recorder = Recorder()
    hook.add_listener(recorder)
    seen: list[MetricsRecord] = []
    hook.add_listener(lambda event: seen.append(event) if isinstance(event, MetricsRecord) else None)
    results = summarize([load_report(REPORT)])
    record_results(hook, "llm", "LLM_LOAD", results, now=1.0)
    record = recorder.scenarios["llm"]
    assert {"ttft", "itl", "tpot", "request_latency", "request_scheduled_latency", "requests",
            "output_tokens", "prompt_tokens"} <= set(record.external)
    assert all(event.source == "guidellm" for event in seen)
    ttft = record.external["ttft"]
    for key in ("count", "ok", "failed", "success_rate", "throughput", "mean_ms", "p50_ms", "p90_ms", "p95_ms",
                "p99_ms", "min_ms", "max_ms"):
        assert key in ttft, key
    stream = record.operations["llm_request"]
    assert stream.ok == results.successful
    assert stream.failed == 0
    assert stream.counters["incomplete"] == sum(1 for r in results.requests if r.status == "incomplete")
    assert sum(slot.ok for slot in stream.timeline.values()) == results.successful
    assert "lateness" in stream.values
    # the p50 of the replayed latencies is GuideLLM's request latency p50 (HDR resolution 0.1%)
    assert stream.percentile_ms(50) == pytest.approx(ttft_p50_latency(results), rel=0.002)


def ttft_p50_latency(results: object) -> float:
    metrics = results.metrics()  # type: ignore[attr-defined]
    return float(metrics["request_latency"]["p50_ms"])


def test_thresholds_read_the_metrics() -> None:
    results = summarize([load_report(REPORT)])
    operations = {name: {**stats, "source": "guidellm"} for name, stats in results.metrics().items()}
    part = ScenarioPart.model_validate({"name": "llm", "operations": operations})
    value, why = measure(part, parse_threshold("p99(ttft) < 1s"))
    assert value == pytest.approx(results.metrics()["ttft"]["p99_ms"]) and not why
    assert measure(part, parse_threshold("rate(requests) >= 4"))[0] == pytest.approx(results.request_rate)
    assert measure(part, parse_threshold("success_rate(requests) >= 0.99"))[0] == 1.0


@pytest.mark.parametrize(("error", "kind"), [
    ("HTTPStatusError: Server error '500 Internal Server Error' for url ..., status 500", "http_500"),
    ("Client error '429 Too Many Requests', status code 429", "http_429"),
    # GuideLLM's own text for a 400: the URL's host must not be taken for the status (it was http_127)
    ("HTTPStatusError(\"Client error '400 Bad Request' for url 'http://127.0.0.1:8000/v1/chat/completions'\\n"
     "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/400\")", "http_400"),
    ("HTTPStatusError('HTTP 400 Bad Request from /v1/chat/completions: default chat template is no longer "
     "allowed')", "http_400"),
    ("ConnectError: cannot reach http://10.0.0.5:8000", "connection"),
    ("ReadTimeout: timed out", "timeout"),
    ("ConnectError: [Errno 111] Connection refused", "connection"),
    ("Request was cancelled", "cancelled"),
    ("something odd", "error"),
    (None, "error"),
])
def test_request_errors_are_countable_types(error: str | None, kind: str) -> None:
    assert classify_request_error(error) == kind


def test_warning_notes_say_when_the_generator_fell_behind() -> None:
    notes = warning_notes([
        GuidellmWarning("root_late", "p95 root dispatch delay 0.5s (threshold 0.2s)"),
        GuidellmWarning("root_late", "p95 root dispatch delay 0.5s (threshold 0.2s)"),
        GuidellmWarning("custom", "odd", "a note"),
    ])
    assert len(notes) == 2
    assert "fell behind its schedule" in notes[0] and "target saw less load than planned" in notes[0]
    assert notes[1] == "GuideLLM warning custom: odd a note"


def test_entry_folder_names_are_safe(tmp_path: Path) -> None:
    assert safe_name("llm-matrix[rate=1,promptTokens=32]") == "llm-matrix_rate_1_promptTokens_32"
    assert safe_name("LLM_LOAD#0") == "LLM_LOAD_0"
    assert safe_name("///") == "entry"
    assert entry_results_dir(tmp_path, "a b") == tmp_path / "a_b"


def test_a_failure_note_is_redacted_before_it_is_cut() -> None:
    secret = "sk-note-SECRET-" + "z" * 40
    register_secret(secret)
    error = f"HTTPStatusError('HTTP 401 Unauthorized from /v1/chat/completions: bad key {secret}')"
    note = failure_note("http_401", 3, 10, error)
    assert note == "3 of 10 requests failed with http_401; the first: HTTP 401 Unauthorized from " \
                   "/v1/chat/completions: bad key ***"
    long = failure_note("http_500", 1, 1, "boom " * 200 + secret)
    assert len(long) < 400 and long.endswith("...") and "sk-note" not in long
