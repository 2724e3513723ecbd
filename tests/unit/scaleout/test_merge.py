"""merge_results: one results directory and one verdict from shard results (with an LLM_LOAD entry whose
GuideLLM statistics are merged from every shard's reports)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from perf_tests.config.settings import PrometheusSettings
from perf_tests.llm.results.merging import summarize
from perf_tests.llm.results.parsing import load_report
from perf_tests.llm.results.universal_report import validate_universal_report
from perf_tests.observability.harness import HarnessReport, HarnessSample
from perf_tests.observability.models import EntryQueries, Window
from perf_tests.recorder.events import LOAD_FINISHED, LOAD_STARTED, MetricsRecord, OperationEvent, ScenarioMark
from perf_tests.recorder.recorder import Recorder
from perf_tests.results.summary import PlannedEntry
from perf_tests.scaleout.merge import merge_results, merged_prometheus_settings, shard_lines
from perf_tests.scaleout.result import PrometheusEndpoint, ShardResult, write_shard_result
from perf_tests.scaleout.shard import ShardSpec
from perf_tests.scaleout.snapshot import snapshot

LLM_ENTRY = {"mode": "LLM_LOAD", "name": "llm", "startTime": "0s", "runTime": "2s", "targetUrl": "http://127.0.0.1:18000",
             "model": "tiny-llama", "rateType": "constant", "rate": 4.0, "promptTokens": 32, "outputTokens": 16}
REPORT = Path(__file__).resolve().parents[2] / "integration" / "tekton" / "data" / "guidellm_report.json"


def _shard(tmp_path: Path, index: int, late: float = 0.0, tolerance: float = 1.0,
           load: tuple[float, float] | None = None, at: float = 100.0,
           **fields: Any) -> ShardResult:  # fields: of ShardResult
    folder = tmp_path / f"s{index}"
    (folder / "llm").mkdir(parents=True)
    shutil.copyfile(REPORT, folder / "llm" / "guidellm.json")
    recorder = Recorder()
    recorder(ScenarioMark("llm", "LLM_LOAD", "started", at))
    recorder(ScenarioMark("gets", "RANDOM_GETS", "started", at))
    if load is not None:  # the shard's own load window (its harness's run)
        recorder(ScenarioMark("llm", "LLM_LOAD", LOAD_STARTED, load[0]))
        for i in range(4):
            recorder(OperationEvent("llm", "LLM_LOAD", "request", load[0] + i / 10, 0.05, True))
        recorder(ScenarioMark("llm", "LLM_LOAD", LOAD_FINISHED, load[1]))
    for i in range(10):
        recorder(OperationEvent("gets", "RANDOM_GETS", "healthz", at + i / 10, 0.001 * (i + 1 + index), True))
    for name, stats in summarize([load_report(REPORT)]).metrics().items():
        recorder(MetricsRecord("llm", "LLM_LOAD", name, at + 1, stats, source="guidellm"))
    recorder(ScenarioMark("llm", "LLM_LOAD", "finished", at + 2, status="passed"))
    recorder(ScenarioMark("gets", "RANDOM_GETS", "finished", at + 2, status="passed"))
    entries = [PlannedEntry(name="llm", mode="LLM_LOAD", start_offset_s=0, run_time_s=2),
               PlannedEntry(name="gets", mode="RANDOM_GETS", start_offset_s=0, run_time_s=2,
                            thresholds=["count(healthz) == 20", "p99(healthz) < 1s"])]
    entries = fields.pop("entries", entries)
    fields.setdefault("llm_entries", {"llm": LLM_ENTRY})
    result = ShardResult(shard=ShardSpec(index=index, count=2, start_tolerance=tolerance), run_id="run",
                         shard_run_id=f"run-shard{index}",
                         results_dir=str(folder), started=at - 1, finished=at + 3, start_lateness_s=late,
                         entries=entries, ran=["llm", "gets"], snapshot=snapshot(recorder), **fields)
    write_shard_result(result, folder)
    return result


def test_merge_writes_one_judged_results_directory(tmp_path: Path) -> None:
    single = summarize([load_report(REPORT)]).metrics()["requests"]["count"]
    outcome = merge_results([_shard(tmp_path, 1), _shard(tmp_path, 0)], tmp_path / "merged")
    assert outcome.passed, [c.message for v in outcome.verdicts for c in v.failures()]
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text(encoding="utf-8"))
    gets, llm = (next(p for p in summary["scenarios"] if p["name"] == name) for name in ("gets", "llm"))
    assert gets["operations"]["healthz"]["count"] == 20
    assert llm["operations"]["requests"]["count"] == 2 * single  # both shards' GuideLLM requests
    assert any("merged from 2 reports of 2 shards" in note for note in llm["notes"])
    assert [shard["shard"] for shard in summary["scaleout"]["per_shard"]] == ["0/2", "1/2"]
    for name in ("report.html", "summary.csv", "run.json", "shard-0/shard.json", "shard-1/shard.json"):
        assert (tmp_path / "merged" / name).is_file(), name
    page = (tmp_path / "merged" / "report.html").read_text(encoding="utf-8")
    assert "<h3>Shards (2, merged above)</h3>" in page and "<td>1/2</td><td>gets</td><td>healthz</td>" in page


def test_the_merged_llm_entry_gets_one_universal_report(tmp_path: Path) -> None:
    single = summarize([load_report(REPORT)])
    merge_results([_shard(tmp_path, 0), _shard(tmp_path, 1)], tmp_path / "merged")
    folder = tmp_path / "merged" / "llm"
    report = json.loads((folder / "benchmark_report.json").read_text(encoding="utf-8"))
    assert (folder / "benchmark_report.yaml").is_file()
    assert validate_universal_report(report) == []
    assert report["run"]["eid"] == "run"
    load = report["scenario"]["load"]["standardized"]
    assert (load["rate_qps"], load["parallelism"]) == (4.0, 2)  # the whole entry's rate, one GuideLLM per shard
    requests = report["results"]["request_performance"]["aggregate"]["requests"]
    assert requests["total"] == 2 * single.total  # both shards' requests, merged per request
    assert "observability" not in report["results"]  # no Prometheus here


def test_the_merged_load_window_spans_every_shard_s_load(tmp_path: Path) -> None:
    merge_results([_shard(tmp_path, 0, load=(100.5, 101.5)), _shard(tmp_path, 1, load=(100.7, 101.9))],
                  tmp_path / "merged")
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text(encoding="utf-8"))
    llm = next(p for p in summary["scenarios"] if p["name"] == "llm")
    # earliest shard load start to latest shard load end, not the entry's window (100 .. 102)
    assert llm["load_start"].startswith("1970-01-01T00:01:40.5") and llm["load_end"].startswith("1970-01-01T00:01:41.9")
    assert llm["load_duration_s"] == pytest.approx(1.4)
    assert llm["duration_s"] == pytest.approx(2.0)
    assert llm["operations"]["request"]["count"] == 8
    assert llm["operations"]["request"]["throughput"] == pytest.approx(8 / 1.4, rel=1e-3)  # per second of the load
    gets = next(p for p in summary["scenarios"] if p["name"] == "gets")
    assert gets.get("load_duration_s") is None  # an entry without a load window keeps its own


def test_a_late_shard_fails_the_merged_verdict(tmp_path: Path) -> None:
    outcome = merge_results([_shard(tmp_path, 0), _shard(tmp_path, 1, late=4.2)], tmp_path / "merged")
    failures = [check for verdict in outcome.verdicts for check in verdict.failures()]
    assert {check.name for check in failures} == {"shards_on_time"}
    assert "shard 1/2 4.2s late" in failures[0].message and "more than the 1s allowed" in failures[0].message


def test_pods_are_judged_on_their_own_start_tolerance(tmp_path: Path) -> None:
    """A pod 4.2 s late with SCALE_OUT_START_TOLERANCE 10: on time, its lateness kept as the check's measure."""
    outcome = merge_results([_shard(tmp_path, 0, tolerance=10), _shard(tmp_path, 1, late=4.2, tolerance=10)],
                            tmp_path / "merged")
    on_time = next(check for check in outcome.verdict("gets").checks if check.name == "shards_on_time")
    assert (on_time.passed, on_time.measured, on_time.limit) == (True, 4.2, 10)
    assert any("reached the start 4.2s late" in line for line in shard_lines(outcome.document))


def _health(cpu: float, lateness: float, saturated: bool = False) -> HarnessReport:
    sample = HarnessSample(t=100.5, cpu=cpu, rss_mb=50.0, connections=3)
    return HarnessReport(samples=[sample], cpu_mean=cpu, cpu_max=cpu, rss_max_mb=50.0, connections_max=3,
                         lateness_p99_ms={"gets": lateness}, saturated=saturated,
                         reasons=["gets: send lateness p99 250ms (above 100ms)"] if saturated else [])


def test_each_shard_s_health_is_kept_and_the_run_s_is_the_worst(tmp_path: Path) -> None:
    strict = [PlannedEntry(name="gets", mode="RANDOM_GETS", start_offset_s=0, run_time_s=2, strict_harness=True)]
    results = [_shard(tmp_path, 0, harness=_health(0.4, 2.0), entries=strict),
               _shard(tmp_path, 1, harness=_health(0.95, 250.0, saturated=True), entries=strict)]
    outcome = merge_results(results, tmp_path / "merged")
    harness = outcome.document.harness
    assert harness is not None and harness.saturated and harness.shards == ["0/2", "1/2"]
    assert (harness.cpu_max, harness.lateness_p99_ms) == (0.95, {"gets": 250.0})
    assert harness.reasons == ["shard 1/2: gets: send lateness p99 250ms (above 100ms)"]
    per_shard = outcome.document.scaleout.per_shard if outcome.document.scaleout else []
    assert [(part.harness.cpu_max, part.harness.samples) for part in per_shard if part.harness] == [
        (0.4, []), (0.95, [])]  # the samples stay in each shard's own summary
    failures = outcome.verdict("gets").failures()
    assert [check.name for check in failures] == ["harness"]
    assert "shard 1/2" in failures[0].message and "shard 0/2" not in failures[0].message
    page = (tmp_path / "merged" / "report.html").read_text(encoding="utf-8")
    assert "Load generator per shard" in page and "worst of 2 shards" in page
    assert any("load generator CPU max 95% of a core" in line and "SATURATED" in line
               for line in shard_lines(outcome.document))


def test_prometheus_queries_without_a_prometheus_say_so(tmp_path: Path) -> None:
    queries = {"gets": EntryQueries(step=1.0, expressions={"up": "up"})}
    outcome = merge_results([_shard(tmp_path, 0, queries=queries), _shard(tmp_path, 1, queries=queries)],
                            tmp_path / "merged",
                            prometheus=PrometheusSettings(PROMETHEUS_URL=""))
    part = outcome.document.part("gets")
    assert part is not None and part.prometheus is not None and part.prometheus.status == "not_configured"


def test_the_merge_asks_the_shards_prometheus_with_its_own_token(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = PrometheusEndpoint(url="https://thanos.example:9091", verify_ssl=False, timeout=7.0)
    results = [_shard(tmp_path, index, prometheus=endpoint) for index in range(2)]
    assert "token" not in results[0].prometheus.model_dump_json() if results[0].prometheus else False
    monkeypatch.setenv("PROMETHEUS_TOKEN", "merge-side-token")
    settings = merged_prometheus_settings(PrometheusSettings(PROMETHEUS_URL=""), results)
    assert settings is not None
    assert (settings.prometheus_url, settings.prometheus_verify_ssl, settings.prometheus_timeout) == (
        "https://thanos.example:9091", False, 7.0)
    assert settings.bearer_token() == "merge-side-token"
    own = PrometheusSettings(PROMETHEUS_URL="http://127.0.0.1:9090")
    assert merged_prometheus_settings(own, results) is own  # this process's settings win


def test_a_stage_s_merged_window_spans_every_shard_s(tmp_path: Path) -> None:
    """Each shard's stage windows on the shared clock, merged by position: earliest start to latest end."""
    from perf_tests.scaleout.merge import _merged_windows
    from perf_tests.scaleout.snapshot import merge_snapshots

    def stages(shift: float) -> dict[str, list[Window]]:
        return {"gets": [Window(name="stage 1 (10/s)", kind="stage", start=100.0 + shift, end=101.0 + shift),
                         Window(name="stage 2 (20/s)", kind="stage", start=101.0 + shift, end=102.0 + shift)]}

    results = [_shard(tmp_path, 0, windows=stages(0.0)), _shard(tmp_path, 1, windows=stages(0.2))]
    recorder = merge_snapshots([(None, result.snapshot) for result in results])
    windows = _merged_windows("gets", recorder, results)
    assert [(w.name, w.kind, w.start, w.end) for w in windows] == [
        ("gets", "entry", 100.0, 102.0), ("stage 1 (10/s)", "stage", 100.0, 101.2),
        ("stage 2 (20/s)", "stage", 101.0, 102.2)]
    assert _merged_windows("never-ran", recorder, results) == []
