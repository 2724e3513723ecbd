"""Stair-step stages become overlapping constant-rate layers whose rates add up to each step's rate."""

from __future__ import annotations

from typing import Any

import pytest

from perf_tests.llm.options import LlmLoadFields
from perf_tests.llm.plan import plan_launches, stage_layers


def total_rate_at(layers: list[tuple[float, float, float]], t: float) -> float:
    return sum(rate for start, end, rate in layers if start <= t < end)


def test_seed_003_stair_is_four_copies_at_half_a_request_per_second() -> None:
    minute = 60.0
    layers = stage_layers([(0.5, 10 * minute), (1.0, 10 * minute), (1.5, 10 * minute), (2.0, 10 * minute)],
                          60 * minute)
    assert layers == [(0.0, 3600.0, 0.5), (600.0, 3600.0, 0.5), (1200.0, 3600.0, 0.5), (1800.0, 3600.0, 0.5)]


@pytest.mark.parametrize(
    ("steps", "total"),
    [
        ([(1.0, 10.0), (3.0, 10.0), (2.0, 10.0), (0.0, 10.0), (1.0, 10.0)], 50.0),
        ([(4.0, 5.0), (1.0, 5.0)], 20.0),
        ([(0.0, 5.0), (2.0, 5.0)], 10.0),
        ([(2.0, 1.0), (2.0, 1.0), (5.0, 1.0), (0.5, 1.0)], 4.0),
    ],
)
def test_layers_add_up_to_every_step(steps: list[tuple[float, float]], total: float) -> None:
    layers = stage_layers(steps, total)
    offset = 0.0
    for number, (rate, duration) in enumerate(steps):
        end = total if number == len(steps) - 1 else offset + duration
        for t in (offset, (offset + end) / 2, end - 1e-6):
            assert total_rate_at(layers, t) == pytest.approx(rate)
        offset = end
    assert all(end > start and rate > 0 for start, end, rate in layers)


def test_a_step_down_splits_the_newest_layer() -> None:
    assert stage_layers([(1.0, 10.0), (3.0, 10.0), (2.0, 10.0)], 30.0) == [
        (0.0, 30.0, 1.0), (10.0, 20.0, 2.0), (20.0, 30.0, 1.0)]


def entry(**fields: Any) -> LlmLoadFields:
    return LlmLoadFields.model_validate({"mode": "LLM_LOAD", "name": "e", "startTime": 0, "runTime": "40s", **fields})


def test_plan_without_stages_is_one_process_for_the_whole_entry() -> None:
    [launch] = plan_launches(entry(rate=3))
    assert (launch.start, launch.end, launch.rate, launch.label) == (0.0, 40.0, 3.0, "guidellm")
    [sweep] = plan_launches(entry(rateType="sweep"))
    assert sweep.rate == 10.0
    [sync] = plan_launches(entry(rateType="synchronous"))
    assert sync.rate is None


def test_plan_with_stages_labels_each_layer() -> None:
    launches = plan_launches(entry(stages=[{"rate": 1, "duration": "10s"}, {"rate": 2, "duration": "10s"}]))
    assert [(x.label, x.start, x.end, x.rate) for x in launches] == [
        ("guidellm-1", 0.0, 40.0, 1.0), ("guidellm-2", 10.0, 40.0, 1.0)]
