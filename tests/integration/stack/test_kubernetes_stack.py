"""The ``kubernetes`` stack against the fake Kubernetes API on loopback, through the real ``kubernetes`` client.

Created objects, readiness after the simulated delays, the record (start-up times, nodes, accelerator,
transitions), teardown of exactly what was created, a pod that never gets ready (the error names it with
its events and log), a forbidden call (403 naming the verb), and Ctrl-C of ``stack up`` (everything deleted).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from perf_tests.errors import RunnerError, TargetError
from perf_tests.llm.results.universal_report import universal_report_schema
from perf_tests.stack import PERMISSIONS, KubernetesStack, StackOptions, universal_stack
from tests.integration.stack.fake_cluster import FakeCluster

REPO = Path(__file__).resolve().parents[3]
MANIFESTS = REPO / "deploy" / "tekton" / "harness" / "manifests"


def _options(**extra: object) -> StackOptions:
    data: dict[str, object] = {"kind": "kubernetes", "image": "vllm/vllm-openai:v0.11.0", "model": "org/tiny",
                               "servedModelName": "tiny", "replicas": 2, "args": ["--max-num-seqs", "8"],
                               "namespace": {"name": "perf-stack", "create": True}, "readyTimeout": "20s"}
    data.update(extra)
    return StackOptions.model_validate(data)


def test_a_stack_is_created_ready_after_the_delays_recorded_and_torn_down(cluster: FakeCluster,
                                                                          kubeconfig: Path) -> None:
    options = _options(inferencePool=str(MANIFESTS / "inferencepool.yaml"), httpRoute=str(MANIFESTS / "httproute.yaml"))
    stack = KubernetesStack(options, "serve[stack.replicas=2]", poll_interval=0.1)
    stack.check()
    began = time.monotonic()
    url = stack.start()
    took = time.monotonic() - began
    assert took >= cluster.stack.schedule_delay + cluster.stack.ready_delay  # not ready before the pods are
    record = stack.record
    assert record is not None
    namespace = record.namespace
    assert namespace is not None and namespace.startswith("perf-stack-") and namespace in cluster.namespaces
    assert url == f"http://{stack.name}.{namespace}.svc.cluster.local:8000"
    deployment = cluster.objects[("deployments", namespace, stack.name)]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "vllm/vllm-openai:v0.11.0"
    assert container["args"] == ["--model", "org/tiny", "--served-model-name", "tiny", "--port", "8000",
                                 "--max-num-seqs", "8"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-secret", "key": "HF_TOKEN",
                                                               "optional": True}}} in container["env"]
    route = cluster.objects[("httproutes", namespace, stack.name)]
    assert route["spec"]["rules"][0]["matches"][0]["path"]["value"] == "/tiny/"
    pool = cluster.objects[("inferencepools", namespace, stack.name)]
    assert pool["spec"]["selector"]["matchLabels"] == {"llm-d.ai/model": "tiny"}
    assert pool["spec"]["targetPorts"] == [{"number": 8000}]

    assert [r.node for r in record.replica_records] == ["node-a", "node-a"]
    assert {r.accelerator for r in record.replica_records} == {"FAKE-GPU-80GB"}
    for replica in record.replica_records:
        assert replica.startup_seconds is not None and 0 <= replica.startup_seconds <= 5  # whole-second API times
    states = [(t.replica is None, t.state) for t in record.transitions]
    assert states[0] == (True, "starting") and states[-1] == (True, "ready")
    assert sum(1 for t in record.transitions if t.state == "ready" and t.replica) == 2

    components, observability = universal_stack(record, time.time())
    import jsonschema

    report_schema = dict(universal_report_schema())
    for ref, value in (("Component", components[0]), ("Observability", observability)):
        jsonschema.validate(value, {"$ref": f"#/$defs/{ref}", "$defs": report_schema["$defs"]})
    assert components[0]["standardized"]["accelerator"]["model"] == "FAKE-GPU-80GB"
    assert observability["replica_status"]["controllers"][0]["ready_replicas"] == 2

    stack.stop()
    assert cluster.leftovers() == []
    assert [o.kind for o in record.deleted] == ["HTTPRoute", "InferencePool", "Service", "Deployment", "Namespace"]
    assert record.deleted == list(reversed(record.created))
    used = {(r.api_group, r.resource, r.verb) for r in cluster.requests}
    granted = {(p.api_group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    # Everything granted is used, and nothing else; events and logs only when a pod does not get ready (below).
    assert used == granted - {("", "events", "list"), ("", "pods/log", "get")}


def test_a_pod_that_never_gets_ready_times_out_naming_it_with_its_events_and_log(cluster: FakeCluster,
                                                                                 kubeconfig: Path) -> None:
    cluster.stack.never_ready = True
    stack = KubernetesStack(_options(replicas=1, readyTimeout="2s"), "never", poll_interval=0.1)
    began = time.monotonic()
    with pytest.raises(TargetError) as error:
        stack.start()
    assert time.monotonic() - began < 10
    message = str(error.value)
    pod = next(name for (_, name) in cluster.pods)
    assert f"pod {pod} (Running, node-a) is not ready" in message
    assert "was not ready within 2s (readyTimeout): 0 of 1 replicas ready" in message
    assert "Warning Unhealthy: Readiness probe failed" in message
    assert "ERROR CUDA out of memory while loading the model" in message
    assert "Traceback" not in message
    used = {(r.api_group, r.resource, r.verb) for r in cluster.requests}
    assert {("", "events", "list"), ("", "pods/log", "get")} <= used
    assert used <= {(p.api_group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    stack.stop()
    assert cluster.leftovers() == []


def test_a_forbidden_call_names_the_verb_and_what_was_created_is_deleted(cluster: FakeCluster,
                                                                         kubeconfig: Path) -> None:
    cluster.behaviour.forbidden = {("create", "deployments")}
    stack = KubernetesStack(_options(), "forbidden", poll_interval=0.1)
    with pytest.raises(TargetError) as error:
        stack.start()
    message = str(error.value)
    assert message.startswith("forbidden: kubeconfig ")
    assert "may not create deployments in namespace 'perf-stack-" in message
    assert "deploy/tekton/harness/rbac.yaml" in message
    assert stack.record is not None and [o.kind for o in stack.record.created] == ["Namespace"]
    stack.stop()
    assert cluster.leftovers() == []


def test_a_cancel_while_waiting_ends_the_wait_and_stop_deletes_everything(cluster: FakeCluster,
                                                                          kubeconfig: Path) -> None:
    cluster.stack.never_ready = True
    stack = KubernetesStack(_options(readyTimeout="5m"), "cancelled", poll_interval=0.1)
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(RunnerError, match="was stopped before it was ready"):
        stack.start(cancel)
    assert time.monotonic() - began < 5
    stack.stop()
    assert cluster.leftovers() == []


def test_ctrl_c_of_stack_up_tears_down_what_it_created(cluster: FakeCluster, kubeconfig: Path,
                                                        tmp_path: Path) -> None:
    cluster.stack.never_ready = True
    scenario = tmp_path / "cluster.json"
    scenario.write_text(json.dumps([{
        "mode": "LLM_LOAD", "name": "serve", "startTime": 0, "runTime": "1m", "rate": 1,
        "stack": _options(readyTimeout="5m").model_dump(mode="json", by_alias=True, exclude_none=True),
    }]), encoding="utf-8")
    state = tmp_path / "state.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "KUBECONFIG": str(kubeconfig)}
    process = subprocess.Popen([sys.executable, "-m", "perf_tests", "stack", "up", str(scenario), "--entry", "serve",
                                "--state", str(state), "--set", "stack.replicas=1"], env=env, cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(key[0] == "services" for key in cluster.objects):  # all created, waiting: interrupt
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert cluster.leftovers() == []
    record = json.loads(state.read_text(encoding="utf-8"))["record"]
    assert [o["kind"] for o in record["deleted"]] == ["Service", "Deployment", "Namespace"]


def test_stack_up_then_down_from_the_command_line(cluster: FakeCluster, kubeconfig: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "cluster.json"
    scenario.write_text(json.dumps([{
        "mode": "LLM_LOAD", "name": "serve", "startTime": 0, "runTime": "1m", "rate": 1,
        "stack": _options().model_dump(mode="json", by_alias=True, exclude_none=True),
        "matrix": {"stack.replicas": [1, 2]},
    }]), encoding="utf-8")
    state, url_file = tmp_path / "state.json", tmp_path / "url"
    env = {**os.environ, "PYTHONPATH": str(REPO), "KUBECONFIG": str(kubeconfig)}
    up = subprocess.run([sys.executable, "-m", "perf_tests", "stack", "up", str(scenario), "--entry",
                         "serve[stack.replicas=2]", "--state", str(state), "--url-file", str(url_file),
                         "--set", 'stack.args=["--max-num-seqs","32"]'], env=env, cwd=REPO, capture_output=True,
                        text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    deployment = next(obj for key, obj in cluster.objects.items() if key[0] == "deployments")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--max-num-seqs", "32"]
    assert url_file.read_text(encoding="utf-8").endswith(".svc.cluster.local:8000")
    down = subprocess.run([sys.executable, "-m", "perf_tests", "stack", "down", "--state", str(state)], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert "deleted 3 object(s)" in down.stdout
    assert cluster.leftovers() == []


def test_a_scenario_run_deploys_records_and_tears_down_even_when_the_load_cannot_reach_it(
        cluster: FakeCluster, kubeconfig: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "cluster.json"
    stack = _options(replicas=1, httpRoute=str(MANIFESTS / "httproute.yaml"), gatewayUrl="http://127.0.0.1:9")
    scenario.write_text(json.dumps([{
        "mode": "LLM_LOAD", "name": "serve", "startTime": 0, "runTime": "5s", "rate": 1, "workers": 1,
        "stack": stack.model_dump(mode="json", by_alias=True, exclude_none=True),
    }]), encoding="utf-8")
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(REPO), "KUBECONFIG": str(kubeconfig)}
    run = subprocess.run([sys.executable, "-m", "perf_tests", "run", str(scenario), "--results-dir", str(results)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 1
    assert "targetUrl http://127.0.0.1:9 is unreachable" in run.stdout + run.stderr
    assert cluster.leftovers() == []
    [entry] = json.loads((results / "summary.json").read_text(encoding="utf-8"))["scenarios"]
    record = entry["attrs"]["stack"]
    assert record["kind"] == "kubernetes" and record["url"] == "http://127.0.0.1:9"
    assert [o["kind"] for o in record["deleted"]] == ["HTTPRoute", "Service", "Deployment", "Namespace"]
    assert record["replica_records"][0]["accelerator"] == "FAKE-GPU-80GB"
