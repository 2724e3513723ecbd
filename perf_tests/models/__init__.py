"""Data models: scenario entries (validated from the scenario file), durations and shared field types."""

from perf_tests.models.durations import Minutes, Seconds, parse_duration
from perf_tests.models.fields import MAX_PARAMS_DEPTH, FileName, OptionsModel, PipelineParams
from perf_tests.models.scenario import EntryFiles, PipelineEntry, ScenarioEntry
from perf_tests.models.scenario_file import (
    SCENARIO_SCHEMA_FILE,
    Scenario,
    build_scenario,
    entries_json,
    load_scenario,
    resolve_scenario_path,
    scenario_json_schema,
)

__all__ = [
    "MAX_PARAMS_DEPTH",
    "SCENARIO_SCHEMA_FILE",
    "EntryFiles",
    "FileName",
    "Minutes",
    "OptionsModel",
    "PipelineEntry",
    "PipelineParams",
    "Scenario",
    "ScenarioEntry",
    "Seconds",
    "build_scenario",
    "entries_json",
    "load_scenario",
    "parse_duration",
    "resolve_scenario_path",
    "scenario_json_schema",
]
