"""The bad-input corpus: every malformed scenario file is one clear error, exit code 2, never a traceback.

Each file in ``tests/data/bad_scenarios/`` (listed with what it breaks in that folder's README) is checked
with ``python -m perf_tests validate FILE`` in a subprocess of its own. Each pays the interpreter's
start-up and the framework's imports, so the subprocesses of the selected tests run a few at a time.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "data" / "bad_scenarios"
DATA_DIR = REPO / "test_data"
MEMORY_LIMIT = 1 << 30  # bytes of address space per validation: a runaway expansion fails instead of swapping
TIMEOUT = 120  # seconds per validation, generous for a loaded machine

ENTRY = "entry 0 (PIPELINE_RUN#0): "

# What stderr must contain besides ``error: <file>:``; a mark for the cases that show a bug today.
EXPECTED: dict[str, tuple[str, ...]] = {
    "syntax_trailing_comma.json": ("invalid JSON at line 1, column 56: Expecting property name",),
    "syntax_unclosed_list.json": ("invalid JSON at line 3, column 1",),
    "syntax_truncated_string.json": ("invalid JSON at line 1, column 11", "Unterminated string"),
    "syntax_single_quotes.json": ("invalid JSON at line 1, column 3", "double quotes"),
    "syntax_unquoted_keys.json": ("invalid JSON at line 1, column 3",),
    "syntax_comment.json": ("invalid JSON at line 1, column 1",),
    "syntax_yaml.json": ("invalid JSON at line 1, column 1: Expecting value",),
    "syntax_bare_word.json": ("invalid JSON at line 1, column 1",),
    "syntax_two_documents.json": ("invalid JSON at line 2, column 1", "Extra data"),
    "syntax_control_character.json": ("invalid JSON at line 1, column 24", "Invalid control character"),
    "empty.json": ("the file is empty; expected a JSON list of scenario entries",),
    "whitespace_only.json": ("the file is empty",),
    "bom_only.json": ("the file is empty",),
    "encoding_utf16.json": ("not UTF-8 text (byte 0); save the scenario file as UTF-8 JSON",),
    "encoding_utf16be_no_bom.json": ("invalid JSON at line 1, column 1",),
    "encoding_latin1.json": ("not UTF-8 text (byte ", "save the scenario file as UTF-8 JSON"),
    "encoding_binary.json": ("not UTF-8 text (byte 0)",),
    "top_object.json": ("expected a JSON list of scenario entries, got an object (wrap the entry in [ ])",),
    "top_string.json": ("expected a JSON list of scenario entries, got a string",),
    "top_number.json": ("got a number",),
    "top_null.json": ("got null",),
    "top_true.json": ("got true/false",),
    "top_empty_list.json": ("the scenario list is empty; add at least one entry",),
    "nested_100k_lists.json": ("the JSON is nested too deeply to be a scenario file",),
    "nested_params_100k.json": ("the JSON is nested too deeply",),
    "entry_null.json": ("entry 0: expected an object", "got null"),
    "entry_string.json": ("entry 0: expected an object", "got a string"),
    "entry_numbers.json": ("entry 0: expected an object", "entry 1: expected an object", "got a number"),
    "entry_nested_list.json": ("entry 0: expected an object", "got a list"),
    "mode_missing.json": ("entry 0: field 'mode' is missing; valid modes: ", "PIPELINE_RUN"),
    "mode_unknown.json": ("entry 0 (PIPELINE_RUNS#0): field 'mode': unknown mode 'PIPELINE_RUNS'; valid modes: ",),
    "mode_lowercase.json": ("field 'mode': unknown mode 'pipeline_run'; valid modes: ", "PIPELINE_RUN"),
    "mode_trailing_space.json": ("field 'mode': unknown mode 'PIPELINE_RUN '",),
    "mode_number.json": ("entry 0: field 'mode': unknown mode 1; valid modes: ",),
    "mode_null.json": ("entry 0: field 'mode': unknown mode", "valid modes: "),
    "mode_list.json": ("entry 0: field 'mode': unknown mode", "valid modes: "),
    "duplicate_keys.json": ("entry 0 (NOPE#0): field 'mode': unknown mode 'NOPE'",),
    "field_unknown.json": (
        "entry 0 (typo): field 'numTime' is not allowed for mode PIPELINE_RUN; allowed fields: ", "numTimes"),
    "field_wrong_case.json": (ENTRY + "field 'StartTime' is not allowed", ENTRY + "field 'startTime' is required"),
    "field_missing_start_time.json": (ENTRY + "field 'startTime' is required",),
    "field_missing_run_time.json": ("entry 0 (exp): field 'runTime' is required",),
    "type_num_times_string.json": (ENTRY + "field 'numTimes': Input should be a valid integer", '(got "many")'),
    "type_num_times_fraction.json": (ENTRY + "field 'numTimes': Input should be a valid integer", "(got 2.5)"),
    "type_num_times_zero.json": (ENTRY + "field 'numTimes': Input should be greater than or equal to 1; "
                                 "allowed: 1 <= numTimes <= 100000 (got 0)",),
    "type_num_times_huge.json": (ENTRY + "field 'numTimes': Input should be less than or equal to 100000",),
    "type_params_list.json": (ENTRY + "field 'params': Input should be a valid dictionary (got [1, 2])",),
    "type_name_number.json": (ENTRY + "field 'name': Input should be a valid string (got 42)",),
    "type_thresholds_string.json": (ENTRY + "field 'thresholds': Input should be a valid list",),
    "type_start_time_bool.json": (ENTRY + "field 'startTime': expected a number of minutes", "not true/false"),
    "type_start_time_object.json": (ENTRY + "field 'startTime': expected a number of minutes",),
    "type_allowed_failure_rate.json": (ENTRY + "field 'allowedFailureRate': Input should be less than or equal to 1",),
    "type_pipeline_file_number.json": (ENTRY + "field 'pipelineFileName': Input should be a valid string",),
    "time_negative_start.json": (ENTRY + "field 'startTime': a duration cannot be negative (got -1)",),
    "time_negative_run_string.json": (ENTRY + "field 'runTime': '-5m' is not a duration",),
    "time_zero_run.json": (ENTRY + "field 'runTime': runTime must be greater than 0 (got 0)",),
    "time_zero_run_string.json": (ENTRY + "field 'runTime': runTime must be greater than 0",),
    "time_bad_unit.json": (ENTRY + "field 'runTime': '10 minutes' is not a duration; use minutes (2.5) or a string",),
    "time_days_unit.json": (ENTRY + "field 'runTime': '2d' is not a duration",),
    "time_longer_than_a_week.json": (ENTRY + "field 'runTime': a duration cannot be longer than 7 days",),
    "time_null.json": (ENTRY + "field 'startTime': expected a number of minutes", "(got null)"),
    "time_nan.json": (ENTRY + "field 'startTime': a duration must be a finite number",),
    "time_infinity.json": (ENTRY + "field 'runTime': a duration must be a finite number",),
    "time_huge_float.json": (ENTRY + "field 'runTime': a duration must be a finite number",),
    "time_huge_integer.json": (ENTRY + "field 'startTime': a duration cannot be longer than 7 days",),
    "time_integer_too_many_digits.json": ("invalid JSON: ", "5000 digits"),
    "pipeline_missing.json": (
        ENTRY + "field 'pipelineFileName': pipeline file 'does_not_exist.yaml' not found (looked in ",
        str(DATA_DIR / "pipeline_files" / "does_not_exist.yaml"),
        "available: add_numbers.yaml",
    ),
    "pipeline_absolute_missing.json": (
        ENTRY + "field 'pipelineFileName': pipeline file '/nonexistent/folder/pipeline.yaml' not found",),
    # a model-level check: the location is '(entry)', the message names the field
    "pipeline_wrong_suffix.json": (ENTRY + "field '(entry)': pipelineFileName 'add_numbers.py' must be a compiled "
                                   "pipeline package (.yaml, .yml, .json, .zip, .tar.gz)",),
    "pipeline_empty_name.json": (ENTRY + "field '(entry)': pipelineFileName '' must be a compiled pipeline package",),
    "schedule_missing.json": ("entry 0 (sched): field '(entry)': give exactly one of cron", "or intervalSeconds"),
    "schedule_both.json": ("entry 0 (sched): field '(entry)': give exactly one of cron",),
    "schedule_bad_cron.json": ("entry 0 (sched): field '(entry)': cron 'every minute' must have 6 fields",),
    "schedule_concurrency_too_high.json": (
        "entry 0 (PIPELINE_SCHEDULED_RUN#0): field 'maxConcurrency': Input should be less than or equal to 10",),
    "matrix_not_object.json": ("entry 0 (grid): field 'matrix': expected an object of factor name -> list of values",),
    "matrix_empty.json": ("entry 0 (grid): field 'matrix': expected an object",),
    "matrix_values_not_list.json": ("entry 0 (grid): field 'matrix': factor 'numTimes' needs a non-empty list",),
    "matrix_empty_values.json": ("entry 0 (grid): field 'matrix': factor 'numTimes' needs a non-empty list",),
    "matrix_varies_start_time.json": ("entry 0 (grid): field 'matrix': factor 'startTime' cannot vary",),
    "matrix_unknown_factor.json": ("entry 0 (grid[rate=1]): matrix factor 'rate' is not allowed for mode ",),
    "matrix_bad_value.json": ("entry 0 (grid[numTimes=x]): matrix factor 'numTimes': Input should be a valid integer",),
    "matrix_too_many_combinations.json": ("entry 0 (grid): field 'matrix': 1100 combinations; at most 1000",),
    "matrix_combinatorial_explosion.json": (
        "entry 0 (grid): field 'matrix': 1000000000 combinations; at most 1000 are allowed",),
    "matrix_stagger_without_matrix.json": ("entry 0 (grid): field 'matrix': matrixStagger is only allowed together",),
    "matrix_stagger_negative.json": ("entry 0 (grid): field 'matrixStagger': a duration cannot be negative",),
    "matrix_duplicate_values.json": ("entry names must be unique; repeated: grid[numTimes=2]",),
    "names_duplicate.json": ("entry names must be unique; repeated: same",),
    "names_duplicate_after_strip.json": ("entry names must be unique; repeated: a",),
    "names_clash_with_default.json": ("entry names must be unique; repeated: PIPELINE_RUN#0",),
    "names_lone_surrogate.json": ("field 'name': the name holds an invalid character (a lone surrogate escape)",),
    "names_newline.json": ("field 'name': the name cannot hold control characters",),
    "names_too_long.json": ("field 'name': the name is longer than 200 characters",),
    "many_errors.json": (
        "entry 0 (first): field 'numTimes'",
        "entry 1 (NOPE#1): field 'mode': unknown mode 'NOPE'",
        "entry 2 (third): field 'startTime' is required",
        "entry 2 (third): field 'runTime' is required",
    ),
    "thresholds_unknown_operation.json": (ENTRY + "field 'thresholds'", "nonexistent_op"),
    "thresholds_garbage.json": (ENTRY + "field 'thresholds'", "fast please"),
    "thresholds_bad_percentile.json": (ENTRY + "field 'thresholds'", "p101"),
    "thresholds_bad_unit.json": (ENTRY + "field 'thresholds'", "parsecs"),
    "thresholds_not_strings.json": (ENTRY + "field 'thresholds.0': Input should be a valid string (got 5)",),

    "matrix_null_start_time.json": ("entry 0 (grid): field 'startTime': expected a number of minutes", "(got null)"),
    "matrix_null_run_time.json": ("entry 0 (grid): field 'runTime': expected a number of minutes", "(got null)"),
    "matrix_missing_run_time.json": ("entry 0 (grid): field 'runTime' is required",),
    "matrix_names_too_long.json": ("field 'matrix': the expanded entry names", "would be longer than 200 characters"),
    "pipeline_name_too_long.json": (
        ENTRY + "field 'pipelineFileName': ", "is 305 bytes long; a file or folder name can have at most 255 bytes"),
    "pipeline_path_too_long.json": (ENTRY + "field 'pipelineFileName': the path ", "is longer than 4096 bytes"),
    "pipeline_unknown_user.json": (
        ENTRY + "field 'pipelineFileName': '~nosuchuser/pipelines/add_numbers.yaml' starts with '~nosuchuser', "
        "but user 'nosuchuser' has no home directory here; write the path out",),
    "pipeline_nul_character.json": (ENTRY + "field 'pipelineFileName': a file name cannot hold a NUL character",),
    "rate_infinity.json": ("entry 0 (RANDOM_GETS#0): field 'rate': Input should be a finite number (got Infinity)",),
    "rate_huge_float.json": ("entry 0 (RANDOM_GETS#0): field 'rate': Input should be a finite number (got Infinity)",),
    "rate_stage_infinity.json": ("entry 0 (RANDOM_GETS#0): field 'stages.1.rate': Input should be a finite number",),
    "rate_endpoint_weight_nan.json": (
        "entry 0 (RANDOM_GETS#0): field 'endpoints.list_runs': Input should be a finite number (got NaN)",),
    "type_allowed_failure_rate_nan.json": (ENTRY + "field 'allowedFailureRate': Input should be a finite number",),
    "type_max_polls_infinity.json": (ENTRY + "field 'maxPollsPerSecond': Input should be a finite number",),
    "llm_mock_std_infinity.json": ("entry 0 (LLM_LOAD#0): field 'mockServer.ttftMsStd': ", "(got Infinity)"),
    "llm_stage_rate_nan.json": ("entry 0 (LLM_LOAD#0): field 'stages.0.rate': ", "(got NaN)"),
    "params_nested_900.json": (ENTRY + "field 'params': nested more than 32 levels deep",),
    "params_nan.json": (ENTRY + "field 'params': nan is not a JSON number",),
    "thresholds_100k_characters.json": (
        ENTRY + "field 'thresholds': threshold 'p95(create_run) < 999", "(100018 characters) is longer than 200"),
    "thresholds_many_invalid.json": ("threshold 'nonsense 4' is not of the form", "and 995 more invalid threshold(s)"),
    "mode_100k_characters.json": ("entry 0: field 'mode': unknown mode 'MMM", "(100000 characters); valid modes: "),
    "field_unknown_100k_characters.json": (
        ENTRY + "field 'kkk", "(100000 characters)' is not allowed for mode PIPELINE_RUN; allowed fields: "),
    "value_100k_characters.json": (ENTRY + "field 'numTimes': ", "(100003 characters))"),
    "schedule_cron_100k_characters.json": ("entry 0 (PIPELINE_SCHEDULED_RUN#0): field '(entry)': cron '0 0 0",),
    "llm_tokenizer_name_too_long.json": (
        "entry 0 (LLM_LOAD#0): a file it names ", "cannot be looked up (File name too long)"),
    "many_bad_entries.json": ("entry 19 (PIPELINE_RUN#19): field 'numTimes'",
                              "and 980 more problems (fix these first)"),
    "bound_rate_1e300.json": ("entry 0 (RANDOM_GETS#0): field 'rate': Input should be less than or equal to 100000; "
                              "allowed: 0 < rate <= 100000 (got 1e+300)",),
    "bound_max_lateness_1e300.json": ("field 'maxLateness': a duration cannot be longer than 7 days (got 1e+300)",),
    "bound_simulator_runs.json": ("field 'simulatorData.runs': Input should be less than or equal to 2000; "
                                  "allowed: 0 <= runs <= 2000",),
    "bound_endpoint_weight.json": ("field 'endpoints.list_runs': Input should be less than or equal to 1000000; "
                                   "allowed: 0 <= list_runs <= 1000000",),
    "bound_seed.json": ("field 'seed': Input should be less than or equal to 9223372036854775807",),
    "bound_stage_ramp_to.json": ("field 'stages.0.rampTo': Input should be less than or equal to 100000",),
    "bound_total_runs.json": (ENTRY + "field 'totalRuns': Input should be less than or equal to 10000000",),
    "bound_max_polls.json": (ENTRY + "field 'maxPollsPerSecond': Input should be less than or equal to 100000",),
    "bound_llm_max_requests.json": ("entry 0 (LLM_LOAD#0): field 'maxRequests': Input should be less than or equal to "
                                    "10000000",),
    "bound_llm_mock_std.json": ("field 'mockServer.ttftMsStd': Input should be less than or equal to 600000",),
}

MARKS: dict[str, pytest.MarkDecorator] = {
    # Cases that show a bug today: pytest.mark.xfail(strict=True, reason="BUG: ...").
}


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def _validate(path: Path) -> Outcome:
    process = subprocess.Popen(
        [sys.executable, "-m", "perf_tests", "validate", str(path), "--data-dir", str(DATA_DIR)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
    )
    # The limit is set right after start: the interpreter imports for a good while before it reads the file.
    resource.prlimit(process.pid, resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        stderr += f"\n(timed out after {TIMEOUT}s)"
    return Outcome(process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def validate():
    """``validate(name)``: the outcome of validating one corpus file.

    One ``python -m perf_tests validate`` process checks the whole corpus (the CLI validates each file on
    its own and prints one ``error:`` block per bad file), so the suite pays for one interpreter start,
    not a hundred; ``test_each_file_alone_in_its_own_process`` runs a few files one per process.
    """
    # A file marked as a known bug may validate as OK and print to stdout, which would be charged to every
    # file of the shared process: those run alone.
    names = [name for name in corpus_files() if name not in MARKS]
    together = _validate_many([CORPUS / name for name in names])
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in together.stderr.splitlines():
        if line.startswith("error: "):
            path = line[len("error: "):].split(": ", 1)[0]
            current = blocks.setdefault(Path(path).name, [])
        if current is not None:
            current.append(line)

    def get(name: str) -> Outcome:
        if name in MARKS:
            return _validate(CORPUS / name)
        stderr = "\n".join(blocks.get(name, [])) + "\n"
        # Anything that is not part of an error block (a traceback, a stray print) belongs to every file.
        if "Traceback" in together.stderr or together.stdout:
            stderr += together.stderr
        return Outcome(together.returncode, together.stdout, stderr)

    return get


def _validate_many(paths: list[Path]) -> Outcome:
    process = subprocess.Popen(
        [sys.executable, "-m", "perf_tests", "validate", *map(str, paths), "--data-dir", str(DATA_DIR)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
    )
    resource.prlimit(process.pid, resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT * 4)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        stderr += f"\n(timed out after {TIMEOUT * 4}s)"
    return Outcome(process.returncode, stdout, stderr)


@pytest.mark.parametrize(
    "name", ["syntax_trailing_comma.json", "matrix_combinatorial_explosion.json", "time_huge_integer.json"]
)
def test_each_file_alone_in_its_own_process(name):
    outcome = _validate(CORPUS / name)
    assert outcome.returncode == 2
    assert outcome.stdout == ""
    assert "Traceback" not in outcome.stderr
    assert outcome.stderr.startswith(f"error: {CORPUS / name}: ")


def corpus_files() -> list[str]:
    return sorted(path.name for path in CORPUS.iterdir() if path.name != "README.md")


def test_the_corpus_is_complete_and_documented():
    files = corpus_files()
    assert len(files) >= 40
    assert sorted(EXPECTED) == files, "every corpus file needs an EXPECTED line, and every line a file"
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for name in files:
        assert f"| `{name}` | " in readme, f"{name} is not listed in README.md"


@pytest.mark.parametrize("name", [pytest.param(name, marks=MARKS.get(name, ())) for name in sorted(EXPECTED)])
def test_bad_scenario_is_one_clear_error(name, validate):
    outcome = validate(name)
    output = outcome.stdout + outcome.stderr
    assert "Traceback" not in output, output[-2000:]
    assert outcome.returncode == 2, output[-2000:]
    assert outcome.stdout == ""
    first, *more = outcome.stderr.rstrip("\n").split("\n")
    assert first.startswith(f"error: {CORPUS / name}: ")
    assert all(line.startswith("  entry ") for line in more[:-1]), "one error: then one problem per line"
    assert not more or more[-1].startswith(("  entry ", "  and ")), "the last line may count what is not shown"
    assert len(outcome.stderr) < 5000, "an error a person reads, not a dump"
    for fragment in EXPECTED[name]:
        assert fragment in outcome.stderr
