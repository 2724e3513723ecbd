"""The stair-step of the autoscaler experiment (seed 003), scaled from minutes to seconds, two ways:

- ``llm_stairs.json`` as written: four GuideLLM copies at 2 req/s starting at 0, 10, 20 and 30 s, all
  ending at 60 s (the experiment's 0.5 req/s copies, x4 so each 10-s step has enough requests to count);
- one entry with ``stages`` 2 → 4 → 6 → 8 req/s every 10 s, then a hold: the same schedule.

The request rate recorded per step (``llm_request`` starts per second, replayed from GuideLLM's reports)
matches the schedule within 10%. Both run at once against the shared embedded mock server (16 req/s at
the top, ~2.5 minutes on 2 cores).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from perf_tests.models.scenario_file import build_scenario, load_scenario
from perf_tests.runners.registry import options_models
from tests.integration.llm.llm_harness import DATA_DIR, LlmRun, run_scenario

pytestmark = [pytest.mark.llm, pytest.mark.slow]

STEPS = [(0.0, 10.0, 2.0), (10.0, 20.0, 4.0), (20.0, 30.0, 6.0), (30.0, 60.0, 8.0)]
"""(start, end, total req/s) of each step, seconds after the test start."""

STAGES_ENTRY: dict[str, Any] = {
    "mode": "LLM_LOAD", "name": "stairs-stages", "startTime": 0,
    "stages": [{"rate": 2, "duration": "10s"}, {"rate": 4, "duration": "10s"}, {"rate": 6, "duration": "10s"},
               {"rate": 8, "duration": "30s"}],
    "promptTokens": 32, "outputTokens": 16, "workers": 1, "startupLead": "60s",
    "mockServer": {"ttftMs": 20, "itlMs": 2, "outputTokens": 16},
}


@pytest.fixture(scope="module")
def run(guidellm: None, tmp_path_factory: pytest.TempPathFactory) -> LlmRun:
    copies = load_scenario("llm_stairs.json", options_models(), data_dir=DATA_DIR)
    stages = build_scenario([STAGES_ENTRY], options_models(), DATA_DIR)
    copies.entries.extend(stages.entries)
    copies.raw.extend(stages.raw)
    return run_scenario(copies, tmp_path_factory.mktemp("stairs"))


def step_rates(run: LlmRun, names: Sequence[str]) -> list[float]:
    """Request starts per second in each step, over the whole seconds inside it (1 s margin each side)."""
    timelines = [run.recorder.scenarios[name].operations["llm_request"].timeline for name in names]
    rates = []
    for start, end, _ in STEPS:
        first = math.ceil(run.context.clock.wall_at(start)) + 1
        last = math.floor(run.context.clock.wall_at(end)) - 1  # exclusive
        count = sum(slot.ok + slot.failed for timeline in timelines for second, slot in timeline.items()
                    if first <= second < last)
        rates.append(count / (last - first))
    return rates


def test_every_entry_ran(run: LlmRun) -> None:
    failed = {name: result.error for name, result in run.results.items() if not result.ok}
    assert not failed


def test_four_time_shifted_copies_make_the_stair_step(run: LlmRun) -> None:
    rates = step_rates(run, ["stairs-copy1", "stairs-copy2", "stairs-copy3", "stairs-copy4"])
    for (start, _, planned), measured in zip(STEPS, rates, strict=True):
        assert measured == pytest.approx(planned, rel=0.10), f"step at {start:g}s: {rates}"


def test_stages_make_the_same_schedule(run: LlmRun) -> None:
    rates = step_rates(run, ["stairs-stages"])
    for (start, _, planned), measured in zip(STEPS, rates, strict=True):
        assert measured == pytest.approx(planned, rel=0.10), f"step at {start:g}s: {rates}"
    stages = run.recorder.scenarios["stairs-stages"].attrs["stages"]
    assert [stage["rate"] for stage in stages] == [planned for _, _, planned in STEPS]
    for stage in stages:
        assert stage["achieved"] == pytest.approx(stage["rate"], rel=0.10), stages


def test_each_copy_started_on_time(run: LlmRun) -> None:
    for name in ("stairs-copy1", "stairs-copy2", "stairs-copy3", "stairs-copy4", "stairs-stages"):
        notes = run.recorder.scenarios[name].notes
        assert not [note for note in notes if "after its planned start" in note], notes
