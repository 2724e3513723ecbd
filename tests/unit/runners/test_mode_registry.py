"""The mode registry: a mode is one file (tests/unit/runners/sleepy_mode.py) and shows up everywhere."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from jsonschema import Draft202012Validator

from perf_tests.errors import ConfigurationError, ScenarioError
from perf_tests.models.scenario import ScenarioEntry
from perf_tests.models.scenario_file import build_scenario, scenario_json_schema
from perf_tests.runners.registry import (
    load_modes,
    mode_of,
    options_models,
    register,
    registered_runners,
    runner_for,
    unregister,
)

BUILT_IN = {"PIPELINE_RUN", "EXPERIMENT", "PIPELINE_UPLOAD", "PIPELINE_SCHEDULED_RUN"}
SLEEPY = {"mode": "TEST_SLEEPY", "startTime": 0, "runTime": "2s", "nap": "20ms"}


def unknown_mode_error(data_dir) -> str:
    with pytest.raises(ScenarioError) as info:
        build_scenario([{"mode": "NO_SUCH_MODE", "startTime": 0, "runTime": 1}], options_models(), data_dir)
    return str(info.value)


def test_built_in_modes_are_registered():
    assert set(load_modes()) >= BUILT_IN
    for mode, model in options_models().items():
        assert mode_of(model) == mode


def test_a_mode_file_registers_its_runner(sleepy):
    assert runner_for("TEST_SLEEPY") is sleepy.SleepyRunner
    assert registered_runners()["TEST_SLEEPY"] is sleepy.SleepyRunner
    assert options_models()["TEST_SLEEPY"] is sleepy.SleepyOptions
    assert mode_of(sleepy.SleepyOptions) == "TEST_SLEEPY"


def test_the_new_mode_validates_from_a_scenario_list(sleepy, tmp_path):
    scenario = build_scenario([SLEEPY, {**SLEEPY, "name": "second"}], options_models(), tmp_path)
    first, second = scenario.entries
    assert isinstance(first, sleepy.SleepyOptions)
    assert (first.name, first.nap, first.run_time) == ("TEST_SLEEPY#0", 0.02, 2.0)
    assert second.name == "second"


def test_the_new_mode_gets_the_same_errors_as_built_in_ones(sleepy, tmp_path):
    with pytest.raises(ScenarioError) as info:
        build_scenario([{**SLEEPY, "nap": 0, "snooze": True}], options_models(), tmp_path)
    message = str(info.value)
    assert "entry 0 (TEST_SLEEPY#0): field 'snooze' is not allowed for mode TEST_SLEEPY; allowed fields: " in message
    assert "clearError, failIn, failMessage, mode, name, nap, prometheus, runTime, startTime, strictHarness" in message


def test_the_new_mode_is_in_the_json_schema(sleepy, data_dir):
    schema = scenario_json_schema(options_models())
    Draft202012Validator.check_schema(schema)
    assert "SleepyOptions" in schema["$defs"]
    assert "nap" in schema["$defs"]["SleepyOptions"]["properties"]
    validator = Draft202012Validator(schema)
    assert validator.is_valid([SLEEPY])
    assert not validator.is_valid([{**SLEEPY, "snooze": True}])


def test_the_new_mode_is_listed_when_a_mode_is_unknown(sleepy, data_dir):
    message = unknown_mode_error(data_dir)
    valid = message.split("valid modes: ")[1].split(", ")
    assert "TEST_SLEEPY" in valid
    assert set(valid) >= BUILT_IN
    assert valid == sorted(valid)


def test_unregister_removes_the_mode_everywhere(sleepy, data_dir):
    unregister("TEST_SLEEPY")
    assert "TEST_SLEEPY" not in options_models()
    assert "TEST_SLEEPY" not in unknown_mode_error(data_dir)
    assert "SleepyOptions" not in scenario_json_schema(options_models()).get("$defs", {})
    with pytest.raises(ConfigurationError, match="unknown mode 'TEST_SLEEPY'; valid modes: "):
        runner_for("TEST_SLEEPY")
    with pytest.raises(ScenarioError, match="unknown mode 'TEST_SLEEPY'"):
        build_scenario([SLEEPY], options_models(), data_dir)
    unregister("TEST_SLEEPY")  # unregistering twice is fine


def test_registering_the_same_class_again_is_harmless(sleepy):
    assert register(sleepy.SleepyRunner) is sleepy.SleepyRunner
    assert runner_for("TEST_SLEEPY") is sleepy.SleepyRunner


def test_two_runners_for_one_mode_is_an_error(sleepy):
    class Impostor(sleepy.SleepyRunner):
        pass

    with pytest.raises(ConfigurationError) as info:
        register(Impostor)
    message = str(info.value)
    assert message.startswith("mode TEST_SLEEPY is registered twice: ")
    assert "sleepy_mode.SleepyRunner" in message
    assert "Impostor" in message
    assert runner_for("TEST_SLEEPY") is sleepy.SleepyRunner


def test_unknown_mode_lists_the_registered_ones():
    with pytest.raises(ConfigurationError) as info:
        runner_for("NOPE")
    assert str(info.value).startswith("unknown mode 'NOPE'; valid modes: ")
    for mode in BUILT_IN:
        assert mode in str(info.value)


class _OpenMode(ScenarioEntry):
    mode: str


class _TwoModes(ScenarioEntry):
    mode: Literal["A", "B"]


@pytest.mark.parametrize("model", [_OpenMode, _TwoModes])
def test_an_options_model_must_name_exactly_one_mode(model):
    with pytest.raises(TypeError, match=rf"{model.__name__}.mode must be Literal\['ONE_NAME'\]"):
        mode_of(model)



# -- third-party runners: the perf_tests.runners entry point group ----------------------------------


def plugin_env(tmp_path, entry_point):
    """An environment whose sys.path holds a distribution declaring ``entry_point`` in perf_tests.runners."""
    dist = tmp_path / "perf_tests_plugin_test-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: perf-tests-plugin-test\nVersion: 0.1\n",
                                   encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[perf_tests.runners]\n{entry_point}\n", encoding="utf-8")
    here = Path(__file__).resolve().parent
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(here)])}


def perf_tests_cli(env, *args):
    return subprocess.run([sys.executable, "-m", "perf_tests", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_runner_arrives_through_an_entry_point(tmp_path):
    env = plugin_env(tmp_path, "sleepy = sleepy_mode:SleepyRunner")
    result = perf_tests_cli(env, "schema")
    assert result.returncode == 0, result.stderr
    assert "SleepyOptions" in json.loads(result.stdout)["$defs"]
    scenario = tmp_path / "sleepy.json"
    scenario.write_text(json.dumps([SLEEPY]), encoding="utf-8")
    result = perf_tests_cli(env, "validate", str(scenario))
    assert (result.returncode, result.stderr) == (0, "")
    assert "TEST_SLEEPY#0 (TEST_SLEEPY, 0s+2s)" in result.stdout


def test_a_broken_plugin_is_a_clear_error(tmp_path):
    env = plugin_env(tmp_path, "broken = perf_tests_no_such_plugin_module")
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps([{"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1}]), encoding="utf-8")
    result = perf_tests_cli(env, "validate", str(scenario))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: mode plugin 'broken' (perf_tests_no_such_plugin_module) failed to load: ")
