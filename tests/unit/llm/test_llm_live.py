"""Requests recorded from the launcher's requests file as GuideLLM finishes them."""

from __future__ import annotations

import json
from pathlib import Path

from perf_tests.llm.results.live import LiveRequests, parse_request_line
from perf_tests.recorder import AggregateRecord, EventHook, Recorder
from perf_tests.scheduler import Clock, FakeTime


def line(status: str, start: float, latency: float | None = 0.2, error: str | None = None) -> str:
    return json.dumps({"status": status, "targeted_start": start - 0.01, "start": start,
                       "end": start + (latency or 0.0), "latency": latency, "first_token": start + 0.05,
                       "error": error}) + "\n"


def test_a_line_is_a_request_record() -> None:
    record = parse_request_line(line("errored", 100.0, error="HTTP 400 Bad Request from /v1/x: no"))
    assert record is not None
    assert (record.status, record.start, record.latency, record.error) == (
        "errored", 100.0, 0.2, "HTTP 400 Bad Request from /v1/x: no")
    assert record.lateness is not None and abs(record.lateness - 0.01) < 1e-9
    assert parse_request_line("not json") is None
    assert parse_request_line('{"status": "queued"}') is None


def test_finished_requests_become_llm_request_attempts_whole_lines_only(tmp_path: Path) -> None:
    hook = EventHook()
    recorder = Recorder()
    hook.add_listener(recorder)
    first, second = tmp_path / "guidellm.requests.jsonl", tmp_path / "guidellm-2.requests.jsonl"
    first.write_text(line("successful", 1000.2) + line("successful", 1001.5)
                     + line("errored", 1001.7, error="HTTP 500 Internal Server Error from /v1/chat/completions: x")
                     + line("incomplete", 1002.0, None), encoding="utf-8")
    partial = line("successful", 1003.0)
    second.write_text(line("successful", 1000.9) + partial[:20], encoding="utf-8")  # still being written
    live = LiveRequests(hook, "llm", "LLM_LOAD", [first, second, tmp_path / "not-yet.requests.jsonl"])
    assert live.finish() == 5
    stats = recorder.scenarios["llm"].operations["llm_request"]
    assert (stats.ok, stats.failed, dict(stats.errors)) == (3, 1, {"http_500": 1})
    assert stats.counters["incomplete"] == 1  # cancelled in flight: counted, not an attempt
    with second.open("a", encoding="utf-8") as handle:
        handle.write(partial[20:])  # the rest of the line arrives
    assert live.finish() == 6
    assert recorder.scenarios["llm"].operations["llm_request"].ok == 4


def test_seconds_are_handed_over_on_the_run_clock_lag_seconds_after_they_end(tmp_path: Path) -> None:
    fake = FakeTime()  # wall time 2026-01-01T00:00:00Z at the start
    clock = Clock(fake)
    handed: list[AggregateRecord] = []
    hook = EventHook()
    hook.add_listener(lambda event: handed.append(event) if isinstance(event, AggregateRecord) else None)
    requests = tmp_path / "guidellm.requests.jsonl"
    requests.write_text(line("successful", clock.wall_at(0.2)), encoding="utf-8")
    live = LiveRequests(hook, "llm", "LLM_LOAD", [requests], clock=clock)
    live.start()
    seen = []
    for _ in range(6):  # a look every 0.5 s of the run clock
        fake.step(blocked=1)
        fake.wait_blocked(1)
        seen.append((clock.elapsed(), len(handed)))
    live.finish()
    # The request's second (0 to 1 s) is handed over once the clock is LAG seconds past its end, not before.
    assert seen == [(0.5, 0), (1.0, 0), (1.5, 0), (2.0, 0), (2.5, 0), (3.0, 1)]
    assert handed[0].second == int(clock.wall_at(0))
