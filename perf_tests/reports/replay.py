"""Replaying ``events.jsonl``: every event of the file fed to a fresh ``Recorder`` (the file's lines are
read and decoded by ``perf_tests.recorder.event_codec``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from perf_tests.recorder.event_codec import event_from_json, read_event_lines
from perf_tests.recorder.events import AggregateRecord, OperationEvent
from perf_tests.recorder.recorder import Recorder

__all__ = ["Replay", "replay"]


@dataclass
class Replay:
    """A recorder fed with every event of an events file, the first and last time seen, and the last
    time seen per scenario entry (its end when the run died before the entry finished)."""

    recorder: Recorder = field(default_factory=Recorder)
    first: float | None = None
    last: float | None = None
    last_by_scenario: dict[str, float] = field(default_factory=dict)
    lines: int = 0


def replay(path: Path) -> Replay:
    """Feed every event of an events file to a fresh ``Recorder``."""
    result = Replay()
    for line in read_event_lines(path):
        event = event_from_json(line)
        if event is None:
            continue
        result.recorder(event)
        result.lines += 1
        if isinstance(event, OperationEvent):
            start, end = event.start, event.start + event.duration
        elif isinstance(event, AggregateRecord):
            start = float(event.second)
            end = start + 1.0
        else:
            start = end = event.time
        if start < 0:
            continue
        result.first = start if result.first is None else min(result.first, start)
        result.last = end if result.last is None else max(result.last, end)
        name = event.scenario
        result.last_by_scenario[name] = max(result.last_by_scenario.get(name, end), end)
    return result
