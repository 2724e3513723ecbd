"""merge_results: one results directory and one verdict from shard results (with an LLM_LOAD entry whose
GuideLLM statistics are merged from every shard's reports)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from perf_tests.llm.results.merging import summarize
from perf_tests.llm.results.parsing import load_report
from perf_tests.recorder.events import MetricsRecord, OperationEvent, ScenarioMark
from perf_tests.recorder.recorder import Recorder
from perf_tests.scaleout.merge import merge_results
from perf_tests.scaleout.result import PlannedEntry, ShardResult, write_shard_result
from perf_tests.scaleout.shard import ShardSpec
from perf_tests.scaleout.snapshot import snapshot

REPORT = Path(__file__).resolve().parents[2] / "integration" / "tekton" / "data" / "guidellm_report.json"


def _shard(tmp_path: Path, index: int, late: float = 0.0) -> ShardResult:
    folder = tmp_path / f"s{index}"
    (folder / "llm").mkdir(parents=True)
    shutil.copyfile(REPORT, folder / "llm" / "guidellm.json")
    recorder = Recorder()
    recorder(ScenarioMark("llm", "LLM_LOAD", "started", 100.0))
    recorder(ScenarioMark("gets", "RANDOM_GETS", "started", 100.0))
    for i in range(10):
        recorder(OperationEvent("gets", "RANDOM_GETS", "healthz", 100.0 + i / 10, 0.001 * (i + 1 + index), True))
    for name, stats in summarize([load_report(REPORT)]).metrics().items():
        recorder(MetricsRecord("llm", "LLM_LOAD", name, 101.0, stats, source="guidellm"))
    recorder(ScenarioMark("llm", "LLM_LOAD", "finished", 102.0, status="passed"))
    recorder(ScenarioMark("gets", "RANDOM_GETS", "finished", 102.0, status="passed"))
    entries = [PlannedEntry(name="llm", mode="LLM_LOAD", start_offset_s=0, run_time_s=2),
               PlannedEntry(name="gets", mode="RANDOM_GETS", start_offset_s=0, run_time_s=2,
                            thresholds=["count(healthz) == 20", "p99(healthz) < 1s"])]
    result = ShardResult(shard=ShardSpec(index=index, count=2), run_id="run", shard_run_id=f"run-shard{index}",
                         results_dir=str(folder), started=99.0, finished=103.0, start_lateness_s=late,
                         entries=entries, ran=["llm", "gets"], snapshot=snapshot(recorder))
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


def test_a_late_shard_fails_the_merged_verdict(tmp_path: Path) -> None:
    outcome = merge_results([_shard(tmp_path, 0), _shard(tmp_path, 1, late=4.2)], tmp_path / "merged")
    failures = [check for verdict in outcome.verdicts for check in verdict.failures()]
    assert {check.name for check in failures} == {"shards_on_time"}
    assert "shard 1/2 4.2s late" in failures[0].message
