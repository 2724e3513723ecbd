"""Arrival models: exact constant schedules, seeded Poisson rates, stage counts, ramps, validation."""

from __future__ import annotations

import itertools
import math

import pytest

from perf_tests.load import ConcurrentArrivals, ConstantArrivals, PoissonArrivals, Stage, StagesArrivals


def test_constant_arrivals_are_exact_offsets_from_the_start():
    offsets = list(ConstantArrivals(4, duration=2).offsets())
    assert offsets == [i / 4 for i in range(8)]


def test_constant_arrivals_do_not_drift_over_a_long_schedule():
    # i / rate, not a running sum of 1 / rate: the millionth arrival is where it should be.
    offsets = ConstantArrivals(3000).offsets()
    millionth = next(itertools.islice(offsets, 1_000_000, None))
    assert millionth == 1_000_000 / 3000


def test_constant_arrivals_without_duration_never_end():
    assert len(list(itertools.islice(ConstantArrivals(1000).offsets(), 50_000))) == 50_000


def test_constant_expected_count_matches_the_schedule():
    model = ConstantArrivals(7.5, duration=3)
    assert len(list(model.offsets())) == model.expected(3) == 23


def test_poisson_mean_rate_with_a_seed():
    offsets = list(PoissonArrivals(500, duration=20, seed=42).offsets())
    assert len(offsets) == pytest.approx(10_000, rel=0.03)  # sd of a Poisson count is 100 (1%)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert sum(gaps) / len(gaps) == pytest.approx(1 / 500, rel=0.03)
    assert all(g >= 0 for g in gaps)
    assert offsets[-1] < 20


def test_poisson_is_reproducible_with_a_seed_and_varies_without():
    first = list(PoissonArrivals(100, duration=1, seed=7).offsets())
    assert first == list(PoissonArrivals(100, duration=1, seed=7).offsets())
    assert first != list(PoissonArrivals(100, duration=1, seed=8).offsets())


def test_poisson_gaps_are_exponential():
    offsets = list(PoissonArrivals(1000, duration=30, seed=3).offsets())
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    mean = sum(gaps) / len(gaps)
    # For an exponential distribution, P(gap > mean) = 1/e.
    above = sum(1 for g in gaps if g > mean) / len(gaps)
    assert above == pytest.approx(math.exp(-1), abs=0.02)


def _per_step_counts(model: StagesArrivals) -> list[int]:
    edges = list(itertools.accumulate(stage.duration for stage in model.stages))
    counts = [0] * len(edges)
    for offset in model.offsets():
        counts[next(i for i, edge in enumerate(edges) if offset < edge)] += 1
    return counts


def test_stair_step_gets_each_steps_share():
    # The 0.5 -> 1 -> 1.5 -> 2 per second stair-step, scaled down to 2-second steps.
    model = StagesArrivals([Stage(0.5, 2), Stage(1, 2), Stage(1.5, 2), Stage(2, 2)])
    assert _per_step_counts(model) == [1, 2, 3, 4]
    assert model.duration == 8
    assert list(model.offsets()) == pytest.approx([0, 2, 3, 4, 4 + 2 / 3, 4 + 4 / 3, 6, 6.5, 7, 7.5])


def test_stages_at_higher_rates_are_evenly_spaced_within_a_step():
    model = StagesArrivals([Stage(50, 1), Stage(100, 1), Stage(150, 1), Stage(200, 1)])
    assert _per_step_counts(model) == [50, 100, 150, 200]
    offsets = list(model.offsets())
    assert offsets[50:53] == pytest.approx([1.0, 1.01, 1.02])
    assert offsets[-1] == pytest.approx(4 - 1 / 200)


def test_a_zero_rate_step_is_a_pause():
    model = StagesArrivals([Stage(10, 1), Stage(0, 5), Stage(10, 1)])
    assert _per_step_counts(model) == [10, 0, 10]


def test_a_linear_ramp_follows_the_rate_integral():
    model = StagesArrivals([Stage(0, 10, ramp_to=10)])
    offsets = list(model.offsets())
    # L(t) = t^2 / 2, so arrival k is due at sqrt(2k): 50 arrivals in all, slowly at first.
    assert len(offsets) == 50
    assert offsets[:4] == pytest.approx([0, math.sqrt(2), 2, math.sqrt(6)])
    assert model.expected(10) == 50
    assert model.expected(5) == pytest.approx(12.5)


def test_a_ramp_down_then_hold():
    model = StagesArrivals([Stage(20, 2, ramp_to=0), Stage(5, 2)])
    assert _per_step_counts(model) == [20, 10]


def test_poisson_stages_follow_the_profile():
    model = StagesArrivals([Stage(200, 5), Stage(600, 5)], process="poisson", seed=11)
    counts = _per_step_counts(model)
    assert counts[0] == pytest.approx(1000, rel=0.1)
    assert counts[1] == pytest.approx(3000, rel=0.1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ConstantArrivals(0), "rate must be a positive"),
        (lambda: ConstantArrivals(float("nan")), "rate must be a positive"),
        (lambda: PoissonArrivals(-1), "rate must be a positive"),
        (lambda: ConstantArrivals(10, duration=0), "duration must be greater than 0"),
        (lambda: ConcurrentArrivals(0), "concurrency must be at least 1"),
        (lambda: StagesArrivals([]), "at least one step"),
        (lambda: Stage(-1, 1), "rate must be a number >= 0"),
        (lambda: Stage(1, 0), "duration must be greater than 0"),
        (lambda: StagesArrivals([Stage(1, 1)], process="burst"), "process must be"),  # type: ignore[arg-type]
    ],
)
def test_invalid_models_are_rejected(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_descriptions():
    assert ConstantArrivals(200).describe() == "constant 200/s"
    assert PoissonArrivals(50, seed=1).describe() == "poisson 50/s, seed 1"
    assert ConcurrentArrivals(8).describe() == "concurrent 8"
    assert StagesArrivals([Stage(1, 60), Stage(1, 30, ramp_to=2)]).describe() == (
        "stages (constant): 1/s for 60s, 1/s->2/s for 30s"
    )


@pytest.mark.parametrize(
    "model",
    [
        ConstantArrivals(7.5, duration=3),
        ConstantArrivals(3, duration=1 / 3),
        ConstantArrivals(1000, duration=0.0105),
        StagesArrivals([Stage(0.5, 7), Stage(3, 2.5, ramp_to=0.1), Stage(0, 1), Stage(10, 0.33)]),
        StagesArrivals([Stage(2, 1.5)]),
    ],
)
def test_planned_is_exactly_the_number_of_offsets(model):
    assert model.planned() == len(list(model.offsets()))


def test_planned_is_unknown_for_random_and_endless_schedules():
    assert PoissonArrivals(10, duration=1, seed=1).planned() is None
    assert StagesArrivals([Stage(2, 1)], process="poisson", seed=1).planned() is None
    assert ConstantArrivals(5).planned() is None
