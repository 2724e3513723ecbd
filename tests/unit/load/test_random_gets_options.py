"""RANDOM_GETS options: fields, camelCase names, validation messages, arrival models, registration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from perf_tests.load import ConcurrentArrivals, ConstantArrivals, PoissonArrivals, StagesArrivals
from perf_tests.load.kfp_endpoints import DEFAULT_ENDPOINT_MIX, KFP_ENDPOINTS
from perf_tests.models.scenario_file import build_scenario
from perf_tests.runners.random_gets import DEFAULT_RATE, RandomGetsOptions, RandomGetsRunner
from perf_tests.runners.registry import options_models, runner_for

BASE = {"mode": "RANDOM_GETS", "startTime": 0, "runTime": "20s"}


def options(**fields: object) -> RandomGetsOptions:
    return RandomGetsOptions.model_validate({**BASE, **fields})


def test_registered_under_its_mode():
    assert runner_for("RANDOM_GETS") is RandomGetsRunner
    assert options_models()["RANDOM_GETS"] is RandomGetsOptions
    assert RandomGetsRunner.needs_kfp is True
    assert RandomGetsOptions.operations == KFP_ENDPOINTS


def test_defaults():
    entry = options(rate=50)
    assert entry.run_time == 20
    assert entry.arrival == "constant"
    assert entry.endpoints == dict(DEFAULT_ENDPOINT_MIX)
    assert entry.max_concurrency == 1000
    assert entry.max_lateness == 1.0
    assert entry.page_size == 10
    assert entry.sort_by == "created_at desc"
    assert entry.namespace is None
    model = entry.arrival_model()
    assert isinstance(model, ConstantArrivals)
    assert model.rate == 50
    assert model.duration == 20  # arrivals fill [startTime, startTime + runTime) exactly


def test_camel_case_fields():
    entry = options(rate=10, maxConcurrency=10, maxLateness="250ms", pageSize=50, sortBy="name asc",
                    namespace="team-a", idRefresh="2s", endpoints={"list_runs": 1, "healthz": 2}, seed=4)
    assert (entry.max_concurrency, entry.max_lateness, entry.page_size) == (10, 0.25, 50)
    assert (entry.sort_by, entry.namespace, entry.id_refresh, entry.seed) == ("name asc", "team-a", 2.0, 4)
    assert entry.endpoints == {"list_runs": 1, "healthz": 2}


def test_unknown_endpoints_list_the_valid_ones():
    with pytest.raises(ValidationError) as error:
        options(rate=1, endpoints={"list_runs": 1, "list_jobs": 2})
    message = str(error.value)
    assert "unknown endpoint(s) list_jobs" in message
    assert "valid endpoints: " + ", ".join(KFP_ENDPOINTS) in message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate": 5, "stages": [{"rate": 1, "duration": 5}]}, "exactly one of 'rate'"),
        ({"rate": 0}, "greater than 0"),
        ({"arrival": "concurrent"}, "needs 'concurrency'"),
        ({"arrival": "concurrent", "concurrency": 4, "rate": 3}, "closed loop"),
        ({"rate": 5, "concurrency": 4}, "use maxConcurrency"),
        ({"arrival": "concurrent", "concurrency": 20, "maxConcurrency": 10}, "above maxConcurrency"),
        ({"rate": 5, "endpoints": {"list_runs": 0}}, "at least one endpoint"),
        ({"rate": 5, "endpoints": {"list_runs": -1, "get_run": 1}}, "greater than or equal to 0"),
        ({"stages": []}, "at least one step"),
        ({"stages": [{"rate": 1, "duration": 5, "ramp": True}]}, "last step cannot 'ramp'"),
        ({"stages": [{"rate": 1, "duration": 5, "ramp": True, "rampTo": 3}, {"rate": 1, "duration": 1}]},
         "not both"),
        ({"stages": [{"rate": 0, "duration": 5}]}, "every step"),
        ({"stages": [{"rate": 1, "duration": 0}]}, "duration must be greater than 0"),
        ({"rate": 5, "arrival": "burst"}, "arrival"),
        ({"rate": 5, "maxLateness": 0}, "must be greater than 0"),
    ],
)
def test_invalid_entries(fields, message):
    with pytest.raises(ValidationError, match=message):
        options(**fields)


def test_arrival_models():
    assert isinstance(options(rate=5, arrival="poisson", seed=1).arrival_model(), PoissonArrivals)
    closed = options(arrival="concurrent", concurrency=8).arrival_model()
    assert isinstance(closed, ConcurrentArrivals)
    assert closed.concurrency == 8
    assert closed.duration == 20


def test_stages_with_ramps():
    entry = options(stages=[
        {"rate": 0.5, "duration": "1m"},
        {"rate": 1, "duration": 60, "ramp": True},
        {"rate": 2, "duration": 60, "rampTo": 4},
        {"rate": 1.5, "duration": 30},
    ], arrival="poisson", seed=3)
    model = entry.arrival_model()
    assert isinstance(model, StagesArrivals)
    assert model.process == "poisson"
    assert [(s.rate, s.duration, s.ramp_to) for s in model.stages] == [
        (0.5, 60, None), (1, 60, 2), (2, 60, 4), (1.5, 30, None)
    ]
    assert model.duration == 210


def test_an_original_format_entry_runs_at_the_default_rate(tmp_path):
    # The original framework's entries have mode, startTime and runTime (minutes) only.
    scenario = build_scenario([{"mode": "RANDOM_GETS", "startTime": 0, "runTime": 2}], options_models(), tmp_path)
    entry = scenario.entries[0]
    assert isinstance(entry, RandomGetsOptions)
    assert entry.rate == DEFAULT_RATE == 10
    assert entry.stages is None
    assert entry.endpoints == dict(DEFAULT_ENDPOINT_MIX)
    model = entry.arrival_model()
    assert isinstance(model, ConstantArrivals)
    assert (model.rate, model.duration, model.planned()) == (10, 120, 1200)


def test_the_default_rate_is_documented_in_the_schema():
    description = RandomGetsOptions.model_json_schema(by_alias=True)["properties"]["rate"]["description"]
    assert "Default 10 when neither rate nor stages is given" in description


def test_stages_or_concurrency_take_no_default_rate():
    assert options(stages=[{"rate": 1, "duration": 5}]).rate is None
    assert options(arrival="concurrent", concurrency=2).rate is None
