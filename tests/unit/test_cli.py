"""The command line: ``validate`` and ``schema`` (``python -m perf_tests``)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from perf_tests.cli import main

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "test_data" / "scenarios" / "smoke.json"
SMOKE_OK = f"{SMOKE}: OK, {len(json.loads(SMOKE.read_text(encoding='utf-8')))} entries: "
TWO = [
    {"mode": "PIPELINE_RUN", "startTime": 0, "runTime": "30s", "numTimes": 2},
    {"mode": "EXPERIMENT", "name": "exp", "startTime": "5s", "runTime": 0.5},
]
TWO_OK = ": OK, 2 entries: PIPELINE_RUN#0 (PIPELINE_RUN, 0s+30s), exp (EXPERIMENT, 5s+30s)"


@pytest.fixture
def two(tmp_path):
    path = tmp_path / "two.json"
    path.write_text(json.dumps(TWO), encoding="utf-8")
    return path


@pytest.fixture
def in_repo(monkeypatch):
    """Run from the repository root, where the default --data-dir (test_data) is."""
    monkeypatch.chdir(REPO)


def test_python_m_perf_tests_validate(two):
    result = subprocess.run([sys.executable, "-m", "perf_tests", "validate", str(two)], cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{two}{TWO_OK}\n", "")


def test_validate_by_name_in_the_data_folder(in_repo, capsys):
    assert main(["validate", "smoke"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(SMOKE_OK)
    assert err == ""


def test_validate_reports_each_file(in_repo, capsys, tmp_path, two):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"mode": "NOPE", "startTime": 0, "runTime": 1}]', encoding="utf-8")
    matrix = tmp_path / "matrix.json"
    matrix.write_text(json.dumps([{"mode": "PIPELINE_RUN", "name": "m", "startTime": "10s", "runTime": "1m",
                                   "matrix": {"numTimes": [1, 2]}}]), encoding="utf-8")
    assert main(["validate", str(two), str(bad), str(matrix)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{two}{TWO_OK}",
        f"{matrix}: OK, 2 entries: m[numTimes=1] (PIPELINE_RUN, 10s+60s), m[numTimes=2] (PIPELINE_RUN, 70s+60s)",
    ]
    assert err.startswith(f"error: {bad}: entry 0 (NOPE#0): field 'mode': unknown mode 'NOPE'; valid modes: ")


def test_validate_a_missing_file_lists_what_exists(in_repo, capsys):
    assert main(["validate", "no_such_scenario.json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: scenario file 'no_such_scenario.json' not found (looked in: ")
    assert "smoke.json" in err


@pytest.mark.parametrize(("name", "message"), [
    ("s" * 300 + ".json", "error: scenario file name: 'ssssssssss"),
    ("~nosuchuser/scenarios/smoke.json", "error: scenario file name: '~nosuchuser/scenarios/smoke.json' starts with "
     "'~nosuchuser', but user 'nosuchuser' has no home directory here; write the path out"),
])
def test_validate_a_file_name_the_file_system_cannot_hold(in_repo, capsys, name, message):
    assert main(["validate", name]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(message)
    assert len(err) < 400


def test_validate_with_another_data_dir(capsys, tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "pipeline_files").mkdir()
    (tmp_path / "pipeline_files" / "mine.yaml").write_text("{}", encoding="utf-8")
    scenario = [{"mode": "PIPELINE_UPLOAD", "startTime": 0, "runTime": "5s", "pipelineFileName": "mine.yaml"}]
    (tmp_path / "scenarios" / "mine.json").write_text(json.dumps(scenario), encoding="utf-8")
    assert main(["validate", "mine", "--data-dir", str(tmp_path)]) == 0
    assert "OK, 1 entries: PIPELINE_UPLOAD#0 (PIPELINE_UPLOAD, 0s+5s)" in capsys.readouterr().out


def test_validate_needs_a_file(capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    assert "the following arguments are required: files" in capsys.readouterr().err


@pytest.fixture
def schema(capsys):
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def test_schema_is_a_valid_json_schema(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert [form["type"] for form in schema["anyOf"]] == ["array", "object"]  # a list, or {"prometheus", "entries"}


def test_schema_validates_the_smoke_scenario(schema):
    validator = Draft202012Validator(schema)
    smoke = json.loads(SMOKE.read_text(encoding="utf-8"))
    assert list(validator.iter_errors(smoke)) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"mode": "NOPE", "startTime": 0, "runTime": 1},
        {"mode": "PIPELINE_RUN", "startTime": 0},
        {"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1, "numTime": 2},
        {"mode": "PIPELINE_RUN", "startTime": "soon", "runTime": 1},
        {"mode": "PIPELINE_RUN", "startTime": 0, "runTime": 1, "numTimes": "many"},
    ],
)
def test_schema_rejects_what_the_loader_rejects(schema, bad):
    assert not Draft202012Validator(schema).is_valid([bad])


def test_schema_to_a_file(capsys, tmp_path, schema):
    output = tmp_path / "scenario.schema.json"
    assert main(["schema", "--output", str(output)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {output}"
    assert json.loads(output.read_text(encoding="utf-8")) == schema
