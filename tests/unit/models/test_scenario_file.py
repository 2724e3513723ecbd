"""Loading scenario files: every problem is a ScenarioError a person can act on."""

import json
import re

import pytest
from jsonschema import Draft202012Validator

from perf_tests.errors import ScenarioError
from perf_tests.models.scenario_file import (
    build_scenario,
    entries_json,
    load_scenario,
    resolve_scenario_path,
    scenario_json_schema,
)

RUN = {"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1}


def entry(**fields):
    return {**RUN, **fields}


def load_error(path, modes, data_dir) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, modes, data_dir)
    return str(info.value)


def build_error(raw, modes, data_dir, path=None) -> str:
    with pytest.raises(ScenarioError) as info:
        build_scenario(raw, modes, data_dir, path)
    return str(info.value)


# -- finding the file ------------------------------------------------------------------------------


def test_missing_file_says_where_it_looked_and_what_is_there(modes, data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = load_error("nope.json", modes, data_dir)
    assert message.startswith("scenario file 'nope.json' not found")
    assert str(tmp_path / "nope.json") in message
    assert str(data_dir / "scenarios" / "nope.json") in message
    assert f"Files in {data_dir / 'scenarios'}: " in message
    assert "smoke.json" in message


def test_missing_file_without_suffix_also_tries_json(modes, data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = load_error("nope", modes, data_dir)
    assert str(data_dir / "scenarios" / "nope.json") in message


def test_missing_file_with_no_scenarios_folder_says_none(modes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = load_error("nope.json", modes, tmp_path / "empty_data")
    assert message.endswith(": none")


def test_empty_name_is_rejected(modes, data_dir):
    assert "SCENARIO_FILE_NAME is empty" in load_error("  ", modes, data_dir)


def test_name_resolves_in_data_scenarios_with_or_without_suffix(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = (data_dir / "scenarios" / "smoke.json").resolve()
    assert resolve_scenario_path("smoke.json", data_dir) == expected
    assert resolve_scenario_path("smoke", data_dir) == expected


def test_path_relative_to_cwd_wins(data_dir, write_scenario, tmp_path, monkeypatch):
    path = write_scenario([RUN], name="smoke.json")
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario_path("smoke.json", data_dir) == path.resolve()


def test_absolute_path_is_used_as_given(data_dir, write_scenario):
    path = write_scenario([RUN])
    assert resolve_scenario_path(str(path), data_dir) == path.resolve()


def test_the_repository_scenarios_load(modes, data_dir):
    for path in sorted((data_dir / "scenarios").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(raw, dict):  # the object form: its top-level prometheus block goes to every entry
            raw = [{"prometheus": raw["prometheus"], **entry} for entry in raw["entries"]]
        scenario = load_scenario(path, modes, data_dir)
        assert scenario.raw == raw
        assert scenario.duration == max(e.end_time for e in scenario.entries)
        if not any("matrix" in item for item in raw):
            assert [e.mode for e in scenario.entries] == [item["mode"] for item in raw]


# -- reading the file ------------------------------------------------------------------------------


def test_invalid_json_names_line_and_column(modes, data_dir, write_scenario):
    path = write_scenario('[\n  {"mode": "PIPELINE_RUN",, "startTime": 0}\n]')
    message = load_error(path, modes, data_dir)
    assert message.startswith(f"{path.resolve()}: invalid JSON at line 2, column 27: ")
    assert "Expecting property name" in message


def test_trailing_comma_is_located(modes, data_dir, write_scenario):
    path = write_scenario('[{"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1,}]')
    assert "invalid JSON at line 1, column 56" in load_error(path, modes, data_dir)


@pytest.mark.parametrize(
    ("text", "kind"),
    [('"PIPELINE_RUN"', "a string"), ("42", "a number"), ("null", "null"), ("true", "true/false")],
)
def test_not_a_list_says_what_it_got(modes, data_dir, write_scenario, text, kind):
    path = write_scenario(text)
    message = load_error(path, modes, data_dir)
    assert message == f"{path.resolve()}: expected a JSON list of scenario entries, got {kind}"


def test_a_single_entry_object_gets_a_hint(modes, data_dir, write_scenario):
    path = write_scenario(RUN)
    message = load_error(path, modes, data_dir)
    assert message.endswith("got an object (wrap the entry in [ ])")


@pytest.mark.parametrize("content", [b"", b"  \n\t\n", b"\xef\xbb\xbf"])
def test_empty_file(modes, data_dir, write_scenario, content):
    path = write_scenario(content)
    message = load_error(path, modes, data_dir)
    assert message == f"{path.resolve()}: the file is empty; expected a JSON list of scenario entries"


def test_empty_list(modes, data_dir, write_scenario):
    path = write_scenario([])
    assert load_error(path, modes, data_dir) == (
        f"{path.resolve()}: the scenario list is empty; add at least one entry"
    )


def test_latin1_bytes_are_not_utf8(modes, data_dir, write_scenario):
    text = json.dumps([entry(name="Müller")], ensure_ascii=False)
    path = write_scenario(text.encode("latin-1"))
    position = text.index("ü")
    message = load_error(path, modes, data_dir)
    assert message == (
        f"{path.resolve()}: not UTF-8 text (byte {position}); save the scenario file as UTF-8 JSON"
    )


def test_utf16_is_not_utf8(modes, data_dir, write_scenario):
    path = write_scenario(json.dumps([RUN]).encode("utf-16"))
    assert "not UTF-8 text (byte 0)" in load_error(path, modes, data_dir)


def test_utf8_with_bom_and_non_ascii_names_load(modes, data_dir, write_scenario):
    path = write_scenario(b"\xef\xbb\xbf" + json.dumps([entry(name="Müller ☃")], ensure_ascii=False).encode())
    scenario = load_scenario(path, modes, data_dir)
    assert scenario.entries[0].name == "Müller ☃"


def test_deeply_nested_json_is_a_clear_error(modes, data_dir, write_scenario):
    path = write_scenario("[" * 100_000 + "]" * 100_000)
    assert load_error(path, modes, data_dir) == (
        f"{path.resolve()}: the JSON is nested too deeply to be a scenario file"
    )


def test_unreadable_file(modes, data_dir, tmp_path):
    folder = tmp_path / "folder.json"
    folder.mkdir()
    # a directory is not a file: resolve_scenario_path reports it as not found
    assert "not found" in load_error(folder, modes, data_dir)


def test_integer_with_too_many_digits_is_a_scenario_error(modes, data_dir, write_scenario):
    # json.loads raises a plain ValueError (not JSONDecodeError) past Python's int/str digit limit
    path = write_scenario('[{"mode": "PIPELINE_RUN", "startTime": ' + "1" * 5000 + ', "runTime": 1}]')
    message = load_error(path, modes, data_dir)
    assert message.startswith(f"{path.resolve()}: invalid JSON: ")
    assert "5000 digits" in message


# -- validating entries ----------------------------------------------------------------------------


def test_entry_that_is_not_an_object(modes, data_dir):
    message = build_error([None, "PIPELINE_RUN", 3, [RUN]], modes, data_dir)
    assert 'entry 0: expected an object {"mode": ..., "startTime": ..., "runTime": ...}, got null' in message
    for index, kind in ((1, "a string"), (2, "a number"), (3, "a list")):
        assert re.search(rf"entry {index}: expected an object .*, got {kind}$", message, re.MULTILINE)


def test_unknown_mode_lists_the_valid_modes(modes, data_dir):
    message = build_error([entry(mode="PIPELINE_RUNS")], modes, data_dir)
    valid = ", ".join(sorted(modes))
    assert message == (
        f"scenario: entry 0 (PIPELINE_RUNS#0): field 'mode': unknown mode 'PIPELINE_RUNS'; valid modes: {valid}"
    )


def test_missing_mode_lists_the_valid_modes(modes, data_dir):
    message = build_error([{"startTime": 0, "runTime": 1}], modes, data_dir)
    assert message == f"scenario: entry 0: field 'mode' is missing; valid modes: {', '.join(sorted(modes))}"


@pytest.mark.parametrize("mode", ["pipeline_run", "PIPELINE_RUN ", 5, None, ["PIPELINE_RUN"]])
def test_near_miss_modes_are_unknown(modes, data_dir, mode):
    message = build_error([entry(mode=mode)], modes, data_dir)
    assert "field 'mode': unknown mode" in message
    assert "valid modes: " in message


def test_missing_fields_are_named_with_entry_index_and_name(modes, data_dir, tmp_path):
    where = tmp_path / "s.json"
    message = build_error([RUN, {"mode": "EXPERIMENT", "name": "exp"}], modes, data_dir, where)
    assert message.splitlines() == [
        f"{where}: ",
        "  entry 1 (exp): field 'startTime' is required",
        "  entry 1 (exp): field 'runTime' is required",
    ]


def test_extra_field_lists_the_allowed_fields(modes, data_dir):
    message = build_error([entry(name="mine", numTime=3)], modes, data_dir)
    prefix = "scenario: entry 0 (mine): field 'numTime' is not allowed for mode PIPELINE_RUN; allowed fields: "
    assert message.startswith(prefix)
    allowed = message.removeprefix(prefix).split(", ")
    assert allowed == sorted(allowed)
    assert {"mode", "name", "startTime", "runTime", "numTimes", "pipelineFileName", "params"} <= set(allowed)
    assert "pipelinePath" not in allowed  # resolved by the loader: a private attribute, not a field


def test_mistyped_field_shows_the_value(modes, data_dir):
    message = build_error([entry(numTimes="many")], modes, data_dir)
    assert message == (
        "scenario: entry 0 (PIPELINE_RUN#0): field 'numTimes': Input should be a valid integer, "
        'unable to parse string as an integer (got "many")'
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"numTimes": 2.5}, "field 'numTimes': Input should be a valid integer"),
        ({"numTimes": 0}, "field 'numTimes': Input should be greater than or equal to 1; "
                          "allowed: 1 <= numTimes <= 100000 (got 0)"),
        ({"numTimes": 10**30}, "field 'numTimes': Input should be less than or equal to 100000"),
        ({"params": [1, 2]}, "field 'params': Input should be a valid dictionary (got [1, 2])"),
        ({"thresholds": "p95 < 2s"}, "field 'thresholds': Input should be a valid list"),
        ({"thresholds": [5]}, "field 'thresholds.0': Input should be a valid string (got 5)"),
        ({"name": 5}, "field 'name': Input should be a valid string (got 5)"),
        ({"allowedFailureRate": 2}, "field 'allowedFailureRate': Input should be less than or equal to 1"),
        ({"startTime": True}, "field 'startTime': expected a number of minutes or a duration string"),
        ({"startTime": None}, "field 'startTime': expected a number of minutes"),
        ({"startTime": {"minutes": 1}}, "field 'startTime': expected a number of minutes"),
        ({"startTime": "10 minutes"}, "field 'startTime': '10 minutes' is not a duration"),
        ({"startTime": float("nan")}, "field 'startTime': a duration must be a finite number"),
        ({"runTime": float("inf")}, "field 'runTime': a duration must be a finite number"),
        ({"runTime": 20_000}, "field 'runTime': a duration cannot be longer than 7 days"),
        ({"pollInterval": 0}, "field 'pollInterval': Input should be greater than 0"),
    ],
)
def test_field_errors(modes, data_dir, fields, expected):
    message = build_error([entry(**fields)], modes, data_dir)
    assert message.startswith("scenario: entry 0 (")
    assert expected in message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"startTime": -1}, "field 'startTime': a duration cannot be negative (got -1)"),
        ({"startTime": "-5s"}, "field 'startTime': '-5s' is not a duration"),
        ({"runTime": -0.5}, "field 'runTime': a duration cannot be negative (got -0.5)"),
    ],
)
def test_negative_times(modes, data_dir, fields, expected):
    assert expected in build_error([entry(**fields)], modes, data_dir)


@pytest.mark.parametrize("run_time", [0, 0.0, "0s", "0", "0ms"])
def test_zero_run_time(modes, data_dir, run_time):
    message = build_error([entry(runTime=run_time)], modes, data_dir)
    assert "field 'runTime': runTime must be greater than 0" in message


def test_model_level_errors_are_reported(modes, data_dir):
    message = build_error([entry(mode="PIPELINE_SCHEDULED_RUN", name="sched")], modes, data_dir)
    assert message == (
        "scenario: entry 0 (sched): field '(entry)': give exactly one of cron (e.g. '0 */1 * * * *') "
        "or intervalSeconds"
    )


def test_every_problem_of_a_file_is_reported_together(modes, data_dir):
    raw = [entry(name="a", numTimes=0), RUN, entry(mode="NOPE"), entry(name="d", runTime=0)]
    message = build_error(raw, modes, data_dir)
    lines = message.splitlines()
    assert lines[0] == "scenario: "
    assert [line.split(":")[0] for line in lines[1:]] == ["  entry 0 (a)", "  entry 2 (NOPE#2)", "  entry 3 (d)"]


# -- times, names and files ------------------------------------------------------------------------


def test_fractional_minutes_and_duration_strings(modes, data_dir):
    scenario = build_scenario(
        [
            entry(startTime=0.5, runTime=1.25),
            entry(startTime="90s", runTime="1h30m"),
            entry(startTime="1.5", runTime="500ms"),
        ],
        modes,
        data_dir,
    )
    assert [(e.start_time, e.run_time) for e in scenario.entries] == [(30.0, 75.0), (90.0, 5400.0), (90.0, 0.5)]
    assert [e.end_time for e in scenario.entries] == [105.0, 5490.0, 90.5]
    assert scenario.duration == 5490.0


def test_snake_case_field_names_are_accepted(modes, data_dir):
    raw = [{"mode": "PIPELINE_RUN", "start_time": 1, "run_time": 2, "num_times": 3}]
    scenario = build_scenario(raw, modes, data_dir)
    assert (scenario.entries[0].start_time, scenario.entries[0].num_times) == (60.0, 3)


def test_default_names_are_mode_and_index(modes, data_dir):
    raw = [RUN, entry(mode="EXPERIMENT", name="  "), entry(name=" mine "), RUN]
    scenario = build_scenario(raw, modes, data_dir)
    assert [e.name for e in scenario.entries] == ["PIPELINE_RUN#0", "EXPERIMENT#1", "mine", "PIPELINE_RUN#3"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("two\nlines", "field 'name': the name cannot hold control characters"),
        ("tab\there", "field 'name': the name cannot hold control characters"),
        ("x" * 201, "field 'name': the name is longer than 200 characters"),
        ("\ud800", "field 'name': the name holds an invalid character (a lone surrogate escape)"),
    ],
    ids=["newline", "tab", "too-long", "lone-surrogate"],
)
def test_names_that_cannot_appear_in_reports(modes, data_dir, name, expected):
    assert expected in build_error([entry(name=name)], modes, data_dir)


def test_a_name_of_200_characters_is_fine(modes, data_dir):
    assert build_scenario([entry(name="n" * 200)], modes, data_dir).entries[0].name == "n" * 200


@pytest.mark.parametrize("name", ["two\nlines", "\ud800", "x" * 10_000], ids=["newline", "surrogate", "huge"])
def test_a_rejected_name_is_not_echoed_raw_in_the_error(modes, data_dir, name):
    message = build_error([entry(name=name)], modes, data_dir)
    assert "\n" not in message
    message.encode("utf-8")
    assert len(message) < 500


def test_duplicate_names(modes, data_dir):
    message = build_error([entry(name="a"), entry(name=" a "), entry(name="b"), entry(name="b")], modes, data_dir)
    assert message == "scenario: entry names must be unique; repeated: a, b"


def test_explicit_name_clashing_with_a_default_name(modes, data_dir):
    message = build_error([RUN, entry(name="PIPELINE_RUN#0")], modes, data_dir)
    assert "entry names must be unique; repeated: PIPELINE_RUN#0" in message


def test_pipeline_file_resolves_in_the_data_folder(modes, data_dir):
    scenario = build_scenario([RUN], modes, data_dir)
    assert scenario.entries[0].pipeline_path == (data_dir / "pipeline_files" / "add_numbers.yaml").resolve()


def test_pipeline_file_next_to_the_scenario_wins(modes, data_dir, tmp_path):
    local = tmp_path / "add_numbers.yaml"
    local.write_text("{}", encoding="utf-8")
    scenario = build_scenario([RUN], modes, data_dir, tmp_path / "s.json")
    assert scenario.entries[0].pipeline_path == local.resolve()


def test_pipeline_file_in_a_sibling_pipeline_files_folder(modes, data_dir, tmp_path):
    (tmp_path / "pipeline_files").mkdir()
    mine = tmp_path / "pipeline_files" / "mine.yaml"
    mine.write_text("{}", encoding="utf-8")
    (tmp_path / "scenarios").mkdir()
    scenario = build_scenario([entry(pipelineFileName="mine.yaml")], modes, data_dir, tmp_path / "scenarios" / "s.json")
    assert scenario.entries[0].pipeline_path == mine.resolve()


def test_missing_pipeline_file_says_where_it_looked_and_what_exists(modes, data_dir, tmp_path):
    where = tmp_path / "s.json"
    message = build_error([entry(name="p", pipelineFileName="nope.yaml")], modes, data_dir, where)
    assert message.startswith(f"{where}: entry 0 (p): field 'pipelineFileName': pipeline file 'nope.yaml' not found")
    looked = re.search(r"looked in (.*); available: (.*)\)$", message)
    assert looked is not None
    assert str(tmp_path / "nope.yaml") in looked.group(1)
    assert str(data_dir / "pipeline_files" / "nope.yaml") in looked.group(1)
    assert "add_numbers.yaml" in looked.group(2).split(", ")


def test_missing_absolute_pipeline_file(modes, data_dir, tmp_path):
    missing = tmp_path / "gone" / "p.yaml"
    message = build_error([entry(pipelineFileName=str(missing))], modes, data_dir)
    assert f"looked in {missing};" in message


@pytest.mark.parametrize("name", ["add_numbers.py", "", "pipeline"])
def test_pipeline_file_must_be_a_package(modes, data_dir, name):
    message = build_error([entry(pipelineFileName=name)], modes, data_dir)
    expected = f"pipelineFileName {name!r} must be a compiled pipeline package (.yaml, .yml, .json, .zip, .tar.gz)"
    assert expected in message


# -- matrix ----------------------------------------------------------------------------------------


def test_matrix_runs_combinations_one_after_another(modes, data_dir):
    raw = [entry(name="grid", startTime="10s", runTime="30s", matrix={"numTimes": [1, 2], "pollInterval": ["1s", 2]})]
    scenario = build_scenario(raw, modes, data_dir)
    assert [(e.name, e.start_time, e.run_time) for e in scenario.entries] == [
        ("grid[numTimes=1,pollInterval=1s]", 10.0, 30.0),
        ("grid[numTimes=1,pollInterval=2]", 40.0, 30.0),
        ("grid[numTimes=2,pollInterval=1s]", 70.0, 30.0),
        ("grid[numTimes=2,pollInterval=2]", 100.0, 30.0),
    ]
    assert [(e.num_times, e.poll_interval) for e in scenario.entries] == [(1, 1.0), (1, 2.0), (2, 1.0), (2, 2.0)]
    assert scenario.duration == 130.0


def test_matrix_stagger_overlaps_combinations(modes, data_dir):
    raw = [entry(startTime=1, runTime=2, matrix={"numTimes": [1, 2, 3]}, matrixStagger="15s")]
    scenario = build_scenario(raw, modes, data_dir)
    assert [(e.name, e.start_time, e.run_time) for e in scenario.entries] == [
        ("PIPELINE_RUN#0[numTimes=1]", 60.0, 120.0),
        ("PIPELINE_RUN#0[numTimes=2]", 75.0, 120.0),
        ("PIPELINE_RUN#0[numTimes=3]", 90.0, 120.0),
    ]


def test_matrix_stagger_zero_starts_all_together(modes, data_dir):
    scenario = build_scenario([entry(matrix={"numTimes": [1, 2]}, matrixStagger=0)], modes, data_dir)
    assert [e.start_time for e in scenario.entries] == [0.0, 0.0]


def test_matrix_entries_keep_their_index_in_names_among_others(modes, data_dir):
    scenario = build_scenario([RUN, entry(mode="EXPERIMENT", matrix={"numTimes": [4]})], modes, data_dir)
    assert [e.name for e in scenario.entries] == ["PIPELINE_RUN#0", "EXPERIMENT#1[numTimes=4]"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"matrix": [1, 2]}, "field 'matrix': expected an object of factor name -> list of values"),
        ({"matrix": {}}, "field 'matrix': expected an object of factor name -> list of values"),
        ({"matrix": {"numTimes": 3}}, "field 'matrix': factor 'numTimes' needs a non-empty list of values"),
        ({"matrix": {"numTimes": []}}, "field 'matrix': factor 'numTimes' needs a non-empty list of values"),
        ({"matrix": {"startTime": [0, 1]}}, "field 'matrix': factor 'startTime' cannot vary"),
        ({"matrix": {"mode": ["EXPERIMENT"]}}, "field 'matrix': factor 'mode' cannot vary"),
        ({"matrixStagger": "5s"}, "field 'matrix': matrixStagger is only allowed together with matrix"),
        ({"matrix": {"numTimes": [1]}, "matrixStagger": -1}, "field 'matrixStagger': a duration cannot be negative"),
        ({"matrix": {"numTimes": [1]}, "matrixStagger": "soon"}, "field 'matrixStagger': 'soon' is not a duration"),
        (
            {"matrix": {"numTimes": [*range(1, 11)], "totalRuns": [*range(1, 11)], "pollInterval": [*range(1, 12)]}},
            "field 'matrix': 1100 combinations; at most 1000 are allowed",
        ),
    ],
)
def test_bad_matrix(modes, data_dir, fields, expected):
    message = build_error([entry(name="m", **fields)], modes, data_dir)
    assert message.startswith(f"scenario: entry 0 (m): {expected}")


def test_bad_matrix_value_names_the_factor(modes, data_dir):
    message = build_error([entry(name="m", matrix={"numTimes": [1, "x"]})], modes, data_dir)
    assert message == (
        "scenario: entry 0 (m[numTimes=x]): matrix factor 'numTimes': Input should be a valid integer, "
        'unable to parse string as an integer (got "x")'
    )


def test_unknown_matrix_factor_is_named(modes, data_dir):
    message = build_error([entry(name="m", matrix={"rate": [1]})], modes, data_dir)
    assert message.startswith(
        "scenario: entry 0 (m[rate=1]): matrix factor 'rate' is not allowed for mode PIPELINE_RUN; allowed fields: "
    )


def test_matrix_with_repeated_values_gives_duplicate_names(modes, data_dir):
    message = build_error([entry(name="m", matrix={"numTimes": [2, 2]})], modes, data_dir)
    assert message == "scenario: entry names must be unique; repeated: m[numTimes=2]"


@pytest.mark.parametrize("field", ["startTime", "runTime"])
def test_invalid_times_of_a_matrix_entry_name_their_field(modes, data_dir, field):
    message = build_error([entry(name="m", matrix={"numTimes": [1, 2]}, **{field: "soon"})], modes, data_dir)
    assert message.startswith(f"scenario: entry 0 (m): field '{field}': 'soon' is not a duration")
    assert message.count("\n") == 0  # one problem, not one per combination


def test_matrix_keeps_tiny_and_large_times_exact(modes, data_dir):
    assert build_scenario([entry(runTime="0.05ms")], modes, data_dir).entries[0].run_time == pytest.approx(5e-05)
    scenario = build_scenario([entry(runTime="0.05ms", matrix={"numTimes": [1, 2]})], modes, data_dir)
    assert [e.run_time for e in scenario.entries] == pytest.approx([5e-05, 5e-05])
    long = build_scenario([entry(startTime="100h", runTime="1h", matrix={"numTimes": [1, 2]})], modes, data_dir)
    assert [e.start_time for e in long.entries] == [360_000.0, 363_600.0]


# -- round trip and schema -------------------------------------------------------------------------


def test_entries_json_round_trips(modes, data_dir):
    raw = [entry(name="a", startTime="90s", runTime=1.5, numTimes=3, params={"a": 1}), entry(mode="EXPERIMENT")]
    first = build_scenario(raw, modes, data_dir).entries
    dumped = entries_json(first)
    assert (dumped[0]["startTime"], dumped[0]["runTime"]) == ("90s", "90s")
    assert "pipelinePath" not in dumped[0]
    again = build_scenario(json.loads(json.dumps(dumped)), modes, data_dir).entries
    assert [e.model_dump() for e in again] == [e.model_dump() for e in first]


def test_json_schema_is_valid_and_names_every_mode(modes, data_dir):
    schema = scenario_json_schema(modes)
    Draft202012Validator.check_schema(schema)
    text = json.dumps(schema)
    for mode in modes:
        assert f'"{mode}"' in text
    validator = Draft202012Validator(schema)
    smoke = json.loads((data_dir / "scenarios" / "smoke.json").read_text(encoding="utf-8"))
    validator.validate(smoke)
    assert not validator.is_valid([entry(mode="NOPE")])
    assert not validator.is_valid([entry(numTime=1)])


def test_entries_json_keeps_times_exact(modes, data_dir):
    first = build_scenario([entry(startTime="1234.5678s", runTime="0.05ms")], modes, data_dir).entries
    again = build_scenario(entries_json(first), modes, data_dir).entries
    assert (again[0].start_time, again[0].run_time) == (first[0].start_time, first[0].run_time)


@pytest.mark.parametrize("value", ["10M", "1H", "500MS", " 1.5 "])
def test_the_schema_accepts_every_duration_the_loader_accepts(modes, data_dir, value):
    raw = [entry(startTime=value)]
    build_scenario(raw, modes, data_dir)  # the loader accepts it
    assert Draft202012Validator(scenario_json_schema(modes)).is_valid(raw)


@pytest.mark.parametrize(("kind", "what"), [("fifo", "a FIFO"), ("device", "a device")])
def test_a_fifo_or_a_device_is_one_clear_error_without_reading_it(modes, data_dir, tmp_path, kind, what):
    """A FIFO that exists would hang the run (opening it waits for a writer) and /dev/zero fill the memory:
    neither is opened. Run in a thread with a bound, so a regression fails instead of hanging the suite."""
    import os
    import threading

    if kind == "fifo":
        path = tmp_path / "scenario.json"
        os.mkfifo(path)
    else:
        path = tmp_path / "zero.json"
        path.symlink_to("/dev/zero")
    assert path.exists()
    raised: list[BaseException] = []

    def load() -> None:
        try:
            load_scenario(str(path), modes, data_dir)
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():
        with open(path, "wb"):  # release the blocked open() of the FIFO (a writer appears), then fail
            pass
        pytest.fail(f"loading {kind} blocked")
    [error] = raised
    assert isinstance(error, ScenarioError)
    assert f"not a regular file (it is {what})" in str(error)
    assert str(path) in str(error)


def test_a_huge_file_is_refused_by_its_size(modes, data_dir, tmp_path, monkeypatch):
    import perf_tests.models.scenario_file as scenario_file

    monkeypatch.setattr(scenario_file, "MAX_SCENARIO_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text("[" + " " * 200 + "]", encoding="utf-8")
    with pytest.raises(ScenarioError, match="larger than"):
        load_scenario(str(path), modes, data_dir)
