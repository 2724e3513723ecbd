"""The prometheus block of a scenario entry, its presets and variables, and the top-level object form."""

import json

import pytest
from pydantic import ValidationError

from perf_tests.errors import ScenarioError
from perf_tests.models.prometheus import PRESETS, PrometheusBlock, query_variables
from perf_tests.models.scenario_file import load_scenario
from perf_tests.runners.registry import options_models

RUN = {"mode": "RANDOM_GETS", "name": "reads", "startTime": 0, "runTime": "10s", "rate": 5}


def test_presets_and_own_queries_merge_and_variables_are_filled():
    block = PrometheusBlock.model_validate({
        "step": "2s", "presets": ["vllm"], "queries": {"running": "sum(up)", "replicas": 'sum(x{d=~"$deployment"})'},
        "variables": {"deployment": "decode"}})
    queries = block.expressions({"model": "tiny", "namespace": "ns"})
    assert queries["running"] == "sum(up)"  # the block's own replaces the preset's
    assert queries["replicas"] == 'sum(x{d=~"decode"})'
    assert 'model_name=~"tiny"' in queries["waiting"]
    assert "[8000ms]" in queries["ttft_p95"]  # $rate: four steps
    assert block.names == sorted({*PRESETS["vllm"], "replicas"})


def test_every_preset_fills_all_its_variables():
    for name in PRESETS:
        block = PrometheusBlock.model_validate({"presets": [name]})
        assert not any("$" in q for q in block.expressions({}).values()), name


@pytest.mark.parametrize(("block", "said"), [
    ({"queries": {"q": "sum($nope)"}}, "uses $nope, which is not defined; defined: $deployment"),
    ({"presets": ["grafana"]}, "'kfp', 'llm-d', 'vllm' or 'wva'"),
    ({}, "names no query"),
    ({"queries": {"bad name": "up"}}, "letters, digits and '_'"),
    ({"queries": {"q": "up"}, "step": 0}, "step must be between"),
])
def test_a_bad_block_says_what_is_allowed(block, said):
    with pytest.raises(ValidationError) as info:
        PrometheusBlock.model_validate(block)
    assert said in str(info.value)


def test_query_variables_come_from_the_entry():
    class Entry:
        model = "meta-llama/Llama-3.1-8B"

    assert query_variables(Entry(), "kubeflow") == {"namespace": "kubeflow", "model": "meta-llama/Llama-3.1-8B"}
    assert query_variables(object(), "kubeflow") == {"namespace": "kubeflow"}


def _load(tmp_path, document):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(document))
    return load_scenario(path, options_models(), tmp_path)


def test_the_object_form_gives_its_block_to_entries_without_one(tmp_path):
    own = {**RUN, "name": "own", "prometheus": {"queries": {"mine": "up"}}}
    scenario = _load(tmp_path, {"prometheus": {"presets": ["kfp"]}, "entries": [RUN, own]})
    assert scenario.entries[0].prometheus.presets == ["kfp"]
    assert scenario.entries[1].prometheus.names == ["mine"]
    assert scenario.raw[0]["prometheus"] == {"presets": ["kfp"]}  # summary.json says what was queried


def test_a_plain_list_still_loads(tmp_path):
    assert _load(tmp_path, [RUN]).entries[0].prometheus is None


@pytest.mark.parametrize(("document", "said"), [
    ({"entries": [RUN], "thresholds": []}, "top-level field 'thresholds' is not allowed; allowed: entries, prometheus"),
    ({"entries": {}}, "field 'entries' must be a list"),
    ({"prometheus": {}}, "without 'entries'"),
])
def test_a_bad_object_form_is_one_clear_error(tmp_path, document, said):
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, document)
    assert said in str(info.value)


def test_a_threshold_on_an_unknown_query_lists_the_defined_ones(tmp_path):
    entry = {**RUN, "prometheus": {"queries": {"waiting": "up", "kv": "up"}}, "thresholds": ["max(prom:wait) < 10"]}
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, [entry])
    assert "unknown query 'wait'; defined queries: prom:kv, prom:waiting" in str(info.value)


def test_a_threshold_on_a_query_without_a_block_says_to_add_one(tmp_path):
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, [{**RUN, "thresholds": ["last(prom:replicas) >= 2"]}])
    assert "none (add a 'prometheus' block)" in str(info.value)
