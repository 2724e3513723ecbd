"""Data models: scenario entries (validated from the scenario file) and durations."""

from perf_tests.models.durations import Minutes, Seconds, parse_duration
from perf_tests.models.scenario import EntryFiles, PipelineEntry, ScenarioEntry
from perf_tests.models.scenario_file import (
    Scenario,
    build_scenario,
    entries_json,
    load_scenario,
    resolve_scenario_path,
    scenario_json_schema,
)

__all__ = [
    "EntryFiles",
    "Minutes",
    "PipelineEntry",
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
