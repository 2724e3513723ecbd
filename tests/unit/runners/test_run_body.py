"""RunBody: the create_run body encoded once, each run's name spliced in as bytes."""

from __future__ import annotations

import json

import pytest

from perf_tests.runners.run_status import RunBody

TEMPLATE = {
    "experiment_id": "e-1",
    "display_name": "",
    "pipeline_version_reference": {"pipeline_id": "p-1", "pipeline_version_id": "v-1"},
    "runtime_config": {"parameters": {"a": 1, "text": "ü \"quoted\""}},
}


@pytest.mark.parametrize("name", ["perf-entry-1", 'a "quoted" name', "ünïcode\\back\nslash", ""])
def test_each_body_is_the_template_with_that_name(name):
    body = RunBody(TEMPLATE).named(name)
    assert json.loads(body) == {**TEMPLATE, "display_name": name}


def test_a_template_with_nothing_but_the_name():
    assert json.loads(RunBody({"display_name": "x"}).named("run-7")) == {"display_name": "run-7"}
    assert json.loads(RunBody({}).named("run-7")) == {"display_name": "run-7"}
