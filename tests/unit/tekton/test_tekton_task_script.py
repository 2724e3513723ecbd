"""The Task's step scripts, run here the way Tekton would run them, with a stub ``guidellm`` on the PATH.

``render_step`` substitutes ``$(params.*)``, ``$(workspaces.*.path)`` and ``$(results.*.path)`` in a step's
script and environment exactly as Tekton does; the stub records the command line it was given and
writes a report where ``--output`` says. The ``report`` step's output then goes through the executor's
own ``extract_report``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_tests.tekton.logs import extract_report

TASK_FILE = Path(__file__).resolve().parents[3] / "deploy" / "tekton" / "task-load-generator.yaml"
STUB = """#!{python}
import json, os, sys
with open(os.environ["STUB_ARGV"], "w") as handle:
    json.dump(sys.argv[1:], handle)
with open("/proc/self/cmdline", "rb") as source, open(os.environ["STUB_ARGV"] + ".cmdline", "wb") as handle:
    handle.write(source.read())  # what `ps` shows of this process
with open(os.environ["STUB_ARGV"] + ".environ", "w") as handle:
    json.dump(dict(os.environ), handle)
for arg in sys.argv:
    if arg.startswith("kind=json,path="):
        with open(arg.split("path=", 1)[1], "w") as handle:
            json.dump({{"benchmarks": [], "args": sys.argv[1:]}}, handle)
print("stub guidellm ran")
sys.exit(int(os.environ.get("STUB_EXIT", "0")))
"""


@dataclass
class StepRun:
    """What one step did: exit code, output, the guidellm argv (if it ran) and the Task results written.

    ``argv`` is what GuideLLM's CLI parses; ``cmdline`` the command line of its process (``/proc/<pid>/cmdline``,
    what ``ps`` shows), ``environ`` its environment."""

    code: int
    stdout: str
    stderr: str
    argv: list[str] | None
    results: dict[str, str]
    cmdline: list[str] | None = None
    environ: dict[str, str] | None = None


def load_task() -> dict[str, Any]:
    task: dict[str, Any] = yaml.safe_load(TASK_FILE.read_text(encoding="utf-8"))
    return task


def render(text: str, values: dict[str, str], workdir: Path) -> str:
    def replace(match: re.Match[str]) -> str:
        kind, name, rest = match.group(1), match.group(2), match.group(3)
        if kind == "params":
            return values[name]
        if kind == "workspaces":
            assert rest == ".path"
            return str(workdir / "workspace" / name)
        assert kind == "results"
        assert rest == ".path"
        return str(workdir / "tekton-results" / name)

    return re.sub(r"\$\((params|workspaces|results)\.([a-z0-9-]+)((?:\.path)?)\)", replace, text)


def run_step(step_name: str, params: dict[str, str], workdir: Path, exit_code: int = 0,
             secret: dict[str, str] | None = None) -> StepRun:  # fmt: skip
    """Run one step of the Task as Tekton would, with ``params`` (defaults filled in).

    ``secret`` is the data of the Secret the ``credentials-secret`` param names (None: no such Secret);
    ``env.valueFrom.secretKeyRef`` entries are resolved from it as the kubelet does (optional keys
    left out when absent).
    """
    task = load_task()
    values = {p["name"]: p["default"] for p in task["spec"]["params"] if "default" in p}
    values.update(params)
    declared = {p["name"] for p in task["spec"]["params"]}
    assert set(params) <= declared, f"params the Task does not declare: {set(params) - declared}"
    assert declared <= set(values), f"required params not given: {declared - set(values)}"
    step = next(s for s in task["spec"]["steps"] if s["name"] == step_name)
    (workdir / "workspace" / "results").mkdir(parents=True, exist_ok=True)
    (workdir / "tekton-results").mkdir(exist_ok=True)
    bin_dir = workdir / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "guidellm"
    stub.write_text(STUB.format(python=sys.executable))
    stub.chmod(0o755)
    script = workdir / f"{step_name}.py"
    script.write_text(render(step["script"], values, workdir))
    argv_file = workdir / "argv.json"
    for stale in (argv_file, Path(f"{argv_file}.cmdline"), Path(f"{argv_file}.environ")):
        stale.unlink(missing_ok=True)
    environment = {}
    for item in step.get("env", []):
        if "value" in item:
            environment[item["name"]] = render(item["value"], values, workdir)
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        if ref["name"] == "hf-secret":  # HF_TOKEN for a gated tokenizer: the cluster's optional Secret
            assert ref.get("optional")
            continue
        assert render(ref["name"], values, workdir) == values["credentials-secret"]
        if secret is not None and ref["key"] in secret:
            environment[item["name"]] = secret[ref["key"]]
        else:
            assert ref.get("optional"), "a missing required key would keep the pod from starting"
    environment.update(
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", STUB_ARGV=str(argv_file), STUB_EXIT=str(exit_code)
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    results = {p.name: p.read_text() for p in (workdir / "tekton-results").iterdir()}
    argv = json.loads(argv_file.read_text()) if argv_file.exists() else None
    cmdline_file, environ_file = Path(f"{argv_file}.cmdline"), Path(f"{argv_file}.environ")
    cmdline = cmdline_file.read_bytes().decode().split("\0")[:-1] if cmdline_file.exists() else None
    environ = json.loads(environ_file.read_text()) if environ_file.exists() else None
    return StepRun(done.returncode, done.stdout, done.stderr, argv, results, cmdline, environ)


def test_steps_run_guidellm_and_print_the_report(tmp_path: Path) -> None:
    load = run_step(
        "load",
        {
            "target-url": "http://llm:8000",
            "model": "tiny",
            "rate-type": "poisson",
            "rate": "2",
            "max-seconds": "30",
            "output-basename": "bench",
        },
        tmp_path,
    )
    assert load.code == 0, load.stderr
    results_dir = tmp_path / "workspace" / "results"
    assert load.argv == [
        "run", "--backend", "kind=openai_http,target=http://llm:8000,model=tiny",
        "--data", "kind=synthetic_text,prompt_tokens=128,output_tokens=64",
        "--profile", "kind=poisson,rate=2.0", "--constraint", "kind=max_duration,seconds=30.0",
        "--output", f"kind=json,path={results_dir / 'bench.json'}", "--disable-console-interactive",
    ]  # fmt: skip
    assert load.results["benchmark-report"] == str(results_dir / "bench.json")
    assert load.results["log-file"] == str(results_dir / "bench.log")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", load.results["start-time"])
    assert load.results["end-time"] >= load.results["start-time"]
    assert "stub guidellm ran" in (results_dir / "bench.log").read_text()
    report = run_step("report", {"target-url": "x", "output-basename": "bench"}, tmp_path)
    assert report.code == 0, report.stderr
    extracted = extract_report(report.stdout)
    assert extracted is not None
    assert extracted[0] == "bench.json"
    assert extracted[1] == (results_dir / "bench.json").read_bytes()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"rate-type": "synchronous", "max-requests": "100"},
         ["--profile", "kind=synchronous", "--constraint", "kind=max_requests,count=100"]),
        ({"rate-type": "throughput", "max-concurrency": "64"}, ["--profile", "kind=throughput,max_concurrency=64"]),
        ({"rate-type": "throughput"}, ["--profile", "kind=throughput,max_concurrency=null"]),
        ({"rate-type": "concurrent", "rate": "8"}, ["--profile", "kind=concurrent,streams=8"]),
        ({"rate-type": "constant", "rate": "0.5", "max-concurrency": "16"},
         ["--profile", "kind=constant,rate=0.5,max_concurrency=16"]),
        ({"rate-type": "sweep", "rate": "5"}, ["--profile", "kind=sweep,sweep_size=5"]),
        ({"data": "kind=huggingface,source=my/dataset"}, ["--data", "kind=huggingface,source=my/dataset"]),
        ({"data-path": "/workspace/results/prompts.jsonl"},
         ["--data", "kind=json_file,path=/workspace/results/prompts.jsonl"]),
        ({"prompt-tokens": "1024", "output-tokens": "2048", "tokenizer": "gpt2"},
         ["--tokenizer", "kind=huggingface_auto,model=gpt2",
          "--data", "kind=synthetic_text,prompt_tokens=1024,output_tokens=2048"]),
        ({"backend-options": '{"request_format": "/v1/completions", "timeout": 30}'},
         ["--backend", "kind=openai_http,target=http://llm:8000,request_format=/v1/completions,timeout=30"]),
        ({"backend-options": '{"headers": {"x-a": "1"}}'},
         ["--backend", '{"kind":"openai_http","target":"http://llm:8000","headers":{"x-a":"1"}}']),
        ({"random-seed": "42"}, ["--seed", "kind=static,value=42", "--disable-console-interactive"]),
        ({"extra-args": "--constraint 'kind=max_errors,count=5'"},
         ["--disable-console-interactive", "--constraint", "kind=max_errors,count=5"]),
    ],
)  # fmt: skip
def test_params_map_to_the_command_line(tmp_path: Path, params: dict[str, str], expected: list[str]) -> None:
    step = run_step("load", {"target-url": "http://llm:8000", **params}, tmp_path)
    assert step.code == 0, step.stderr
    assert step.argv is not None
    joined = "\0".join(step.argv)
    assert "\0".join(expected) in joined


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rate-type": "burst"}, "param rate-type must be one of"),
        ({"backend-options": '{"model": "x"}'}, "param backend-options must be a JSON object"),
        ({"start-delay": "-3"}, "param start-delay must be 0 or more seconds"),
        ({"rate-type": "poisson"}, "rate-type poisson needs param rate"),
        ({"rate-type": "constant", "rate": "fast"}, "param rate must be a number"),
        ({"max-seconds": "-1"}, "param max-seconds must be greater than 0"),
        ({"target-url": ""}, "param target-url is required"),
    ],
)
def test_bad_params_fail_the_step_with_a_message(tmp_path: Path, params: dict[str, str], message: str) -> None:
    step = run_step("load", {"target-url": "http://llm:8000", **params}, tmp_path)
    assert step.code == 2
    assert message in step.stderr
    assert step.argv is None


def test_guidellm_failure_fails_the_step(tmp_path: Path) -> None:
    step = run_step("load", {"target-url": "http://llm:8000"}, tmp_path, exit_code=3)
    assert step.code == 3
    assert "guidellm exited with code 3" in step.stderr
    report = run_step("report", {"target-url": "x", "output-basename": "missing"}, tmp_path)
    assert report.code == 1
    assert "no report at" in report.stderr


def test_secret_backend_options_replace_the_param_and_are_masked(tmp_path: Path) -> None:
    secret = {"backend-options": '{"api_key":"sk-very-secret-1","extras":{"headers":{"x-key":"hdr-secret-2"}}}'}
    step = run_step("load", {"target-url": "http://llm:8000", "backend-options": "{}"}, tmp_path, secret=secret)
    assert step.code == 0, step.stderr
    assert step.argv is not None
    assert '{"kind":"openai_http","target":"http://llm:8000","api_key":"sk-very-secret-1",' in "\0".join(step.argv)
    assert step.cmdline is not None and step.environ is not None
    assert "--backend" in step.cmdline, step.cmdline
    assert step.cmdline[step.cmdline.index("--backend") + 1] == "kind=openai_http,target=http://llm:8000"
    log = (tmp_path / "workspace" / "results" / "benchmark.log").read_text()
    report = (tmp_path / "workspace" / "results" / "benchmark.json").read_text()  # the stub echoes its args
    assert "**********" in report
    for value in ("sk-very-secret-1", "hdr-secret-2"):
        assert value not in step.stdout
        assert value not in log
        assert value not in report
        assert value not in "\0".join(step.cmdline), "a secret on GuideLLM's command line (ps shows it)"
        assert value not in json.dumps(step.environ), "GuideLLM's environment keeps no copy of the Secret"
    assert "running: " in step.stdout


def test_params_cannot_change_the_script(tmp_path: Path) -> None:
    step = run_step(
        "load", {"target-url": 'http://llm:8000"); import os; os._exit(9); ("', "model": "$(echo hi)"}, tmp_path
    )
    assert step.code == 0, step.stderr
    assert step.argv is not None
    assert "model=$(echo hi)" in step.argv[2]
