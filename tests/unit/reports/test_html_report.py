"""``report.html`` and what feeds it: timelines from ``events.jsonl``, chart specs, a self-contained page;
rebuilding the reports (and ``summary.json`` after a ``kill -9``) with ``python -m perf_tests report``; the
JSON Schema of ``summary.json``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jsonschema
import pytest

from perf_tests.cli import main
from perf_tests.recorder import EventHook, EventsFileWriter, MetricsRecord, OperationEvent, Recorder, ScenarioMark
from perf_tests.recorder.per_second import PerSecondAggregator
from perf_tests.reports import (
    EntryInput,
    RunInput,
    build_summary,
    build_timelines,
    rebuild_reports,
    render_html,
    summary_json_schema,
    validate_summary,
    write_reports,
    write_run_file,
    write_summary,
)
from perf_tests.reports.timeline import percentiles
from perf_tests.results import SCHEMA_VERSION, PlannedEntry, SummaryDocument, Target

T0 = 1_700_000_000.0
MODES = {"PIPELINE_RUN#0": "PIPELINE_RUN", "RANDOM_GETS#1": "RANDOM_GETS", "LLM_LOAD#2": "LLM_LOAD"}
THRESHOLDS = {"PIPELINE_RUN#0": ["p95(create_run) < 60ms", "success_rate >= 0.99"],
              "RANDOM_GETS#1": ["p99(list_runs) < 1s", "dropped == 0"], "LLM_LOAD#2": ["p99(ttft) < 1s"]}


def record_run(results: Path, finish: bool = True) -> Recorder:
    """A 30-second run of three entries through the real recorder, stream recorder and events file."""
    hook, recorder = EventHook(), Recorder()
    writer = EventsFileWriter(results / "events.jsonl")
    hook.add_listener(recorder)
    hook.add_listener(writer)
    for index, (name, mode) in enumerate(MODES.items()):
        hook.fire(ScenarioMark(name, mode, "started", T0 + index))
    for i in range(60):
        start = T0 + i * 0.5
        hook.fire(OperationEvent("PIPELINE_RUN#0", "PIPELINE_RUN", "create_run", start, 0.02 + (i % 7) / 100, True))
        if i % 13 == 0:
            hook.fire(OperationEvent("PIPELINE_RUN#0", "PIPELINE_RUN", "create_run", start, 0.01, False, "http_503"))
        state = "FAILED" if i % 9 == 0 else "SUCCEEDED"
        hook.fire(OperationEvent("PIPELINE_RUN#0", "PIPELINE_RUN", "run_duration", start, 3.0, state == "SUCCEEDED",
                                 None if state == "SUCCEEDED" else "run_failed", None, {"state": state}))
    stream = PerSecondAggregator(hook, "RANDOM_GETS#1", "RANDOM_GETS")
    for second in range(1, 29):
        for j in range(50):
            at = T0 + second + j / 50
            stream.record("list_runs", at, 0.002 + second * 0.0005, True, values={"lateness": 0.001},
                          attrs={"total_size": 100 * second})
        if second % 7 == 0:
            stream.count("list_runs", "dropped", T0 + second, 3)
        stream.flush(before=T0 + second + 1)
    stream.flush()
    hook.fire(MetricsRecord("LLM_LOAD#2", "LLM_LOAD", "ttft", T0 + 29,
                            {"count": 100, "p50_ms": 120.0, "p90_ms": 200.0, "p95_ms": 300.0, "p99_ms": 400.0,
                             "max_ms": math.nan}, "guidellm"))
    hook.fire(MetricsRecord("LLM_LOAD#2", "LLM_LOAD", "output_tokens", T0 + 29,
                            {"count": 100, "throughput": 850.0, "unit": "tokens", "p50": 128, "p90": 200, "p95": 230,
                             "p99": 256}, "guidellm"))
    if finish:
        for name, mode in MODES.items():
            hook.fire(ScenarioMark(name, mode, "finished", T0 + 30, "passed"))
    writer.close()
    return recorder


def make_document(results: Path) -> SummaryDocument:
    recorder = record_run(results)
    run = RunInput("r1", [], None, {"kfp": Target(kind="embedded-kfp-simulator", url="http://127.0.0.1:1",
                                                  version="embedded", description="embedded KFP simulator")},
                   T0, T0 + 30)
    return build_summary(run, recorder, [EntryInput(name, mode, thresholds=THRESHOLDS[name])
                                         for name, mode in MODES.items()])


def make_summary(results: Path) -> dict:
    return make_document(results).as_json()


def chart_specs(page: str) -> dict:
    data = re.search(r'<script type="application/json" id="perf-data">(.*?)</script>', page, re.S)
    assert data is not None
    return json.loads(data.group(1))["charts"]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "results"


def test_percentiles_use_the_nearest_rank():
    values = [(float(v), 1) for v in range(1, 101)]
    assert percentiles(values, (50.0, 95.0, 99.0, 100.0)) == [50.0, 95.0, 99.0, 100.0]
    assert percentiles([(10.0, 99), (1000.0, 1)], (50.0, 99.0, 99.5)) == [10.0, 10.0, 1000.0]
    assert percentiles([], (50.0,)) == [None]


def test_timelines_account_for_every_attempt(results):
    recorder = record_run(results)
    timelines = build_timelines(results / "events.jsonl", t0=T0)
    assert timelines.bucket_s == 1 and timelines.t[:3] == [0, 1, 2]
    pipeline = timelines.scenarios["PIPELINE_RUN#0"]
    creates = pipeline.operations["create_run"]
    stats = recorder.scenarios["PIPELINE_RUN#0"].operations["create_run"]
    assert sum(creates.ok_rate) == stats.ok and sum(sum(v) for v in creates.errors.values()) == stats.failed
    assert pipeline.states == {"run_duration": {"SUCCEEDED": 53, "FAILED": 7}}
    listing = timelines.scenarios["RANDOM_GETS#1"].operations["list_runs"]
    assert sum(listing.ok_rate) == 28 * 50 and sum(listing.dropped) == 12
    assert listing.p50[5] == pytest.approx(4.5, rel=0.01)  # 2 ms + 5 s * 0.5 ms
    assert listing.lateness_p99[5] == pytest.approx(1.0, rel=0.01)
    sizes = timelines.scenarios["RANDOM_GETS#1"].sizes["list_runs"]
    assert sizes[0] == pytest.approx((100.0, 2.5), rel=0.01) and len(sizes) == 28
    assert (pipeline.start, pipeline.end) == (0.0, 30.0)


def test_long_runs_get_wider_buckets(tmp_path):
    events = tmp_path / "events.jsonl"
    lines = [{"type": "op", "t": T0 + s, "scenario": "A", "mode": "M", "op": "x", "ms": 5.0, "ok": True}
             for s in range(0, 8 * 3600, 60)]
    events.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    timelines = build_timelines(events, t0=T0, max_buckets=240)
    assert timelines.bucket_s == 120 and len(timelines.t) == 240


def test_the_page_is_self_contained_and_holds_every_chart(results):
    page = render_html(make_document(results), build_timelines(results / "events.jsonl", t0=T0))
    assert "<script src" not in page and "<link rel=\"stylesheet\"" not in page
    assert not re.search(r'(src|href)="https?:', page)
    specs = chart_specs(page)
    titles = {spec["title"]: spec for spec in specs.values()}
    create = titles["create_run duration: p50 / p95 / p99 per 1s"]
    assert create["markers"] == [{"value": 60.0, "label": "p95(create_run) < 60ms"}]
    assert [s["name"] for s in create["series"]] == ["p50", "p95", "p99"]
    assert "Final states (run_duration)" in titles
    assert titles["list_runs duration against table size"]["type"] == "scatter"
    assert titles["LLM_LOAD metrics from guidellm"]["categories"] == ["ttft"]
    assert titles["LLM_LOAD tokens per request from guidellm"]["series"][0]["values"] == [128]
    assert any(t.startswith("Errors and dropped arrivals") for t in titles)
    assert any(t.startswith("Send lateness p99") for t in titles)
    assert page.count('data-chart="') == len(specs)
    assert "The target was the embedded KFP simulator" in page


def test_thresholds_and_their_outcome_are_in_the_checks_table(results):
    page = render_html(make_document(results))
    assert "<code>p95(create_run) &lt; 60ms</code>" in page
    assert "p95(create_run) &lt; 60ms failed: measured 80.1ms, limit 60ms" in page
    assert "no events.jsonl: no charts" in page


def test_names_and_messages_are_escaped(results):
    summary = make_summary(results)
    summary["scenarios"][0]["name"] = "<img src=x onerror=alert(1)></script>"
    summary["scenarios"][0]["message"] = "<b>boom</b>"
    page = render_html(SummaryDocument.model_validate(summary))
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page


def test_write_reports_writes_html_and_csv(results):
    csv_path, html_path = write_reports(make_document(results), results)
    assert csv_path.name == "summary.csv" and html_path.name == "report.html"
    assert len(chart_specs(html_path.read_text(encoding="utf-8"))) >= 8


def test_real_summaries_validate_against_the_published_schema(results):
    summary = json.loads(json.dumps(make_summary(results)))  # as written to disk
    jsonschema.Draft202012Validator.check_schema(summary_json_schema())
    assert validate_summary(summary) == []
    summary["scenarios"][0]["operations"]["create_run"]["count"] = "ten"
    del summary["run_id"]
    problems = validate_summary(summary)
    assert any(p.startswith("(document): 'run_id' is a required property") for p in problems)
    assert any(p.startswith("scenarios/0/operations/create_run/count") for p in problems)


def test_the_schema_follows_the_summary_version():
    assert summary_json_schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_summary_schema_command_prints_the_schema_and_checks_files(tmp_path, capsys, results):
    assert main(["summary-schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "perf-tests summary.json"
    good = write_summary(make_document(results), results)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 2}))
    assert main(["summary-schema", "--check", str(good)]) == 0
    assert main(["summary-schema", "--check", str(good), str(bad)]) == 1
    assert "'run_id' is a required property" in capsys.readouterr().err


def _run_file(results: Path) -> None:
    entries = [PlannedEntry(name=name, mode=mode, start_offset_s=0.0, run_time_s=30.0, thresholds=THRESHOLDS[name],
                            allowed_failure_rate=0.0) for name, mode in MODES.items()]
    write_run_file(results, "killed-run", T0, Path("/tmp/scenario.json"), [{"mode": "PIPELINE_RUN"}], entries,
                   {"kfp": Target(kind="kfp-api", url="http://kfp", description="KFP at http://kfp")})


def test_report_rebuilds_everything_from_events_after_a_kill(results, capsys):
    record_run(results, finish=False)
    _run_file(results)
    with (results / "events.jsonl").open("a") as file:
        file.write('{"type":"op","t":1700000029.5,"scenario":"PIPELINE_RUN#0","op":"cre')  # torn by kill -9
    assert main(["report", str(results)]) == 0
    out = capsys.readouterr().out
    assert f"rebuilt {results / 'summary.json'} from events.jsonl" in out
    summary = json.loads((results / "summary.json").read_text())
    assert validate_summary(summary) == []
    assert summary["run_id"] == "killed-run" and summary["interrupted"] and summary["rebuilt_from_events"]
    assert summary["passed"] is False and summary["targets"]["kfp"]["url"] == "http://kfp"
    pipeline = summary["scenarios"][0]
    assert pipeline["status"] == "interrupted" and pipeline["planned"]["run_time_s"] == 30.0
    assert pipeline["operations"]["create_run"]["count"] == 65
    assert [t["threshold"] for t in pipeline["thresholds"]] == THRESHOLDS["PIPELINE_RUN#0"]
    assert summary["scenarios"][1]["totals"]["dropped"] == 12
    page = (results / "report.html").read_text()
    assert "rebuilt from events.jsonl" in page and len(chart_specs(page)) >= 8
    assert (results / "summary.csv").is_file()


def test_report_keeps_an_existing_summary(results):
    path = write_summary(make_document(results), results)
    before = path.read_text()
    files = rebuild_reports(results)
    assert not files.rebuilt and path.read_text() == before
    assert files.html.is_file() and files.csv.is_file()


def test_report_without_events_or_summary_says_what_is_missing(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "has neither summary.json nor events.jsonl" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nope")]) == 2


def test_operations_table_notes_the_harness_time_beside_the_latency(results):
    summary = make_summary(results)
    operations = summary["scenarios"][0]["operations"]
    name = next(iter(operations))
    operations[name]["queue_wait"] = {"p50_ms": 0.1, "p99_ms": 0.5}  # below 1 ms: not shown
    operations[name]["harness_delay"] = {"p50_ms": 1.5, "p99_ms": 7.25}
    page = render_html(SummaryDocument.model_validate(summary))
    row = page[page.index(f"<code>{name}</code>"):]
    row = row[:row.index("</tr>")]
    assert "harness delay p99 7.25ms" in row and "queue wait" not in row
    operations[name]["queue_wait"] = {"p99_ms": 3.0}
    page = render_html(SummaryDocument.model_validate(summary))
    row = page[page.index(f"<code>{name}</code>"):]
    assert "queue wait p99 3ms; harness delay p99 7.25ms" in row[:row.index("</tr>")]
