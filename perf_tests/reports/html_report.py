"""``report.html``: one self-contained page per run (inline CSS and JS, no network when viewed).

Tables (verdict checks with thresholds, baseline comparison, per-operation statistics) are plain HTML
written here; charts are specs in an inline JSON block drawn as SVG by the small renderer in
``assets/report.js``. Per scenario entry the page shows latency percentiles over time per operation
(with threshold limits as dashed lines), throughput, errors and dropped arrivals over time, send lateness,
final run states, list latency against table size, and statistics computed elsewhere (LLM metrics).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from perf_tests import __version__
from perf_tests.observability.models import EntryObservation
from perf_tests.recorder.event_codec import finite_json
from perf_tests.reports.harness_comparison import comparison_html, comparison_rows
from perf_tests.reports.harness_time import notable_harness_times
from perf_tests.reports.observability_charts import (
    harness_charts,
    harness_html,
    load_observations,
    prometheus_charts,
    prometheus_html,
)
from perf_tests.reports.timeline import ScenarioTimeline, Timelines, build_timelines
from perf_tests.results.summary import ScenarioPart, ShardPart, SummaryDocument
from perf_tests.results.verdict import BaselineComparison, Check
from perf_tests.thresholds.evaluate import format_value

__all__ = ["HTML_FILE_NAME", "render_html", "scenario_charts", "write_html_report"]

HTML_FILE_NAME = "report.html"
_MIN_BUCKETS_FOR_TIMELINE = 3  # set-up and clean-up calls (a burst at each end) get no chart


def _asset(name: str) -> str:
    return resources.files("perf_tests.reports").joinpath("assets", name).read_text(encoding="utf-8")


def _ms(value: Any) -> str:
    return format_value(value if isinstance(value, int | float) else None, "latency")


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def _round(values: Iterable[float | None], digits: int = 3) -> list[float | None]:
    return [None if v is None else round(v, digits) for v in values]


def _anchor(name: str) -> str:
    return "scenario-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def _badge(passed: bool | None, interrupted: bool = False) -> str:
    if interrupted:
        return '<span class="badge warn">INTERRUPTED</span>'
    if passed is None:
        return '<span class="badge skip">NOT JUDGED</span>'
    return '<span class="badge pass">PASSED</span>' if passed else '<span class="badge fail">FAILED</span>'


def _window(timeline: ScenarioTimeline | None, t: Sequence[float]) -> tuple[int, int]:
    """Bucket indices [lo, hi] that cover the entry's activity (all of the run when unknown)."""
    if timeline is None or not t:
        return 0, max(0, len(t) - 1)
    active = [i for op in timeline.operations.values()
              for i, (ok, failed) in enumerate(zip(op.ok_rate, op.failed_rate, strict=True)) if ok or failed]
    width = t[1] - t[0] if len(t) > 1 else 1.0
    for mark in (timeline.start, timeline.end):
        if mark is not None:
            active.append(min(len(t) - 1, max(0, int(mark // width))))
    if not active:
        return 0, len(t) - 1
    return min(active), max(active)


def scenario_charts(
    part: ScenarioPart, timeline: ScenarioTimeline | None, timelines: Timelines | None
) -> list[tuple[str, dict[str, Any]]]:
    """(title, chart spec) pairs for one scenario entry, in page order."""
    charts: list[tuple[str, dict[str, Any]]] = []
    operations = part.operations
    if timeline is not None and timelines is not None:
        lo, hi = _window(timeline, timelines.t)
        x = timelines.t[lo:hi + 1]
        bucket = timelines.bucket_s
        order = list(operations) + [op for op in timeline.operations if op not in operations]
        series_ops = [timeline.operations[op] for op in order if op in timeline.operations]
        busy = [op for op in series_ops
                if sum(1 for ok, failed in zip(op.ok_rate[lo:hi + 1], op.failed_rate[lo:hi + 1], strict=True)
                       if ok or failed) >= _MIN_BUCKETS_FOR_TIMELINE]
        limits: dict[str, list[dict[str, Any]]] = {}
        for result in part.thresholds or []:
            if result.kind == "latency" and result.operation and result.limit is not None:
                limits.setdefault(result.operation, []).append({"value": result.limit, "label": result.threshold})
        for op in busy:
            if not any(v is not None for v in op.p50[lo:hi + 1]):
                continue
            charts.append((f"{op.name} duration: p50 / p95 / p99 per {bucket}s", {
                "type": "line", "unit": "ms", "x": x, "bucket": bucket,
                "series": [
                    {"name": "p50", "values": _round(op.p50[lo:hi + 1])},
                    {"name": "p95", "values": _round(op.p95[lo:hi + 1])},
                    {"name": "p99", "values": _round(op.p99[lo:hi + 1])},
                ],
                "markers": limits.get(op.name, []),
            }))
        if busy:
            charts.append((f"Throughput: successful operations per second ({bucket}s buckets)", {
                "type": "line", "unit": "/s", "x": x, "bucket": bucket,
                "series": [{"name": op.name, "values": _round(op.ok_rate[lo:hi + 1])} for op in busy],
            }))
        error_series: list[dict[str, Any]] = []
        for op in series_ops:
            for error_type, counts in op.errors.items():
                error_series.append({"name": f"{op.name}: {error_type}",
                                     "values": [c / bucket for c in counts[lo:hi + 1]]})
            if any(op.dropped[lo:hi + 1]):
                error_series.append({"name": f"{op.name}: dropped", "dash": True,
                                     "values": [c / bucket for c in op.dropped[lo:hi + 1]]})
        if error_series:
            charts.append((f"Errors and dropped arrivals per second ({bucket}s buckets)", {
                "type": "line", "unit": "/s", "x": x, "bucket": bucket, "series": _round_series(error_series),
            }))
        lateness = [op for op in series_ops if any(v is not None for v in op.lateness_p99[lo:hi + 1])]
        if lateness:
            charts.append(("Send lateness p99 (how late requests left against their schedule)", {
                "type": "line", "unit": "ms", "x": x, "bucket": bucket,
                "series": [{"name": op.name, "values": _round(op.lateness_p99[lo:hi + 1])} for op in lateness],
            }))
        for op_name, states in timeline.states.items():
            ordered = sorted(states.items(), key=lambda item: (-item[1], item[0]))
            charts.append((f"Final states ({op_name})", {
                "type": "bar", "unit": "", "categories": [state for state, _ in ordered],
                "series": [{"name": "runs", "values": [count for _, count in ordered]}],
            }))
        for op_name, points in timeline.sizes.items():
            charts.append((f"{op_name} duration against table size", {
                "type": "scatter", "unit": "ms", "xunit": "", "xlabel": "rows",
                "series": [{"name": op_name, "points": [[x_, round(y_, 3)] for x_, y_ in points]}],
            }))
    external = {name: op for name, op in operations.items() if op.source}
    if external:
        names = [name for name, op in external.items() if any(op.stat(k) is not None for k in _PCTS)]
        sources = sorted({str(op.source) for op in external.values()})
        if names:
            charts.append((f"{part.mode} metrics from {', '.join(sources)}", {
                "type": "bar", "unit": "ms", "categories": names,
                "series": [{"name": key.removesuffix("_ms"), "values": [external[n].stat(key) for n in names]}
                           for key in _PCTS],
            }))
        tokens = [name for name, op in external.items() if op.unit == "tokens"
                  and any(op.stat(k) is not None for k in _PLAIN_PCTS)]
        if tokens:
            charts.append((f"{part.mode} tokens per request from {', '.join(sources)}", {
                "type": "bar", "unit": "", "categories": tokens,
                "series": [{"name": key, "values": [external[n].stat(key) for n in tokens]} for key in _PLAIN_PCTS],
            }))
    return charts


_PCTS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms")
_PLAIN_PCTS = ("p50", "p90", "p95", "p99")
_DOT = " \u00b7 "




def _round_series(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "values": _round(item["values"])} for item in series]


def _checks_table(part: ScenarioPart) -> str:
    checks = part.verdict.checks if part.verdict is not None else []
    if not checks:
        return '<p class="empty">not judged</p>'
    by_threshold = {t.threshold: t for t in part.thresholds or []}
    rows = []
    for check in checks:
        result = by_threshold.get(check.name)
        if result is not None:
            measured, limit = result.measured_text, result.limit_text
            kind = "skip" if result.skipped else ("pass" if check.passed else "fail")
            label = "SKIPPED" if result.skipped else ("PASS" if check.passed else "FAIL")
        else:
            measured, limit = _check_value(check, check.measured), _check_value(check, check.limit)
            kind = "pass" if check.passed else "fail"
            label = "PASS" if check.passed else "FAIL"
        message = check.message.removeprefix(f"{part.name}: ")
        rows.append(
            f'<tr class="{"failed" if not check.passed else ""}"><td><span class="badge {kind}">{label}'
            f'</span></td><td><code>{escape(check.name)}</code></td>'
            f'<td class="num">{escape(str(measured))}</td><td class="num">{escape(str(limit))}</td>'
            f"<td>{escape(message)}</td></tr>"
        )
    return ('<table class="checks"><thead><tr><th>result</th><th>check</th><th class="num">measured</th>'
            '<th class="num">limit</th><th>message</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def _check_value(check: Check, value: float | str | None) -> str:
    name = check.name
    if value is None:
        return "-"
    if name == "failures" and isinstance(value, int | float):
        return f"{value:.2%}"
    if name.startswith("baseline ") and isinstance(value, int | float):
        metric = name.split(" ", 1)[1]
        kind = "ratio" if metric.startswith("success_rate") else "rate" if metric.startswith("rate") else "latency"
        return format_value(float(value), kind, percent=kind == "ratio")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _baseline_table(part: ScenarioPart) -> str:
    baseline = part.baseline
    if baseline is None:
        return ""
    comparisons = baseline.comparisons
    compared = sorted((c for c in comparisons if c.status != "skipped"),
                      key=lambda c: ({"regression": 0, "improvement": 1}.get(c.status, 2), c.operation, c.metric))
    rows = []
    for item in compared:
        kind = item.kind or "latency"
        percent = kind == "ratio"
        status = item.status
        badge = {"regression": "fail", "improvement": "pass"}.get(status, "")
        change = item.change
        rows.append(
            f'<tr class="{"failed" if status == "regression" else ""}"><td>{escape(item.operation)}</td>'
            f'<td>{escape(item.metric)}</td>'
            f'<td class="num">{format_value(item.baseline, kind, percent)}</td>'
            f'<td class="num">{format_value(item.value, kind, percent)}</td>'
            f'<td class="num">{"-" if change is None else f"{change:+.1%}"}</td>'
            f'<td><span class="badge {badge}">{escape(status)}</span></td></tr>'
        )
    skipped: dict[str, list[BaselineComparison]] = {}
    for item in comparisons:
        if item.status == "skipped":
            skipped.setdefault(item.operation, []).append(item)
    head = (f'<h3>Baseline: run {escape(str(baseline.run_id))} '
            f'<span class="muted">(tolerance {float(baseline.tolerance or 0):.0%}, '
            f'{baseline.regressions} regressed, {baseline.improvements} improved, '
            f"{len(compared)} compared)</span></h3>")
    table = ""
    if rows:
        table = ('<table><thead><tr><th>operation</th><th>metric</th><th class="num">baseline</th>'
                 '<th class="num">this run</th><th class="num">change</th><th>status</th></tr></thead><tbody>'
                 + "".join(rows) + "</tbody></table>")
    if skipped:
        lines = "".join(
            f"<li><code>{escape(op)}</code> {escape(', '.join(i.metric for i in items))}: "
            f"{escape(items[0].reason)}</li>"
            for op, items in skipped.items()
        )
        table += (f"<details><summary>{sum(len(i) for i in skipped.values())} comparisons skipped</summary>"
                  f"<ul>{lines}</ul></details>")
    return head + table


def _operations_table(part: ScenarioPart) -> str:
    if not part.operations:
        return '<p class="empty">no operations recorded</p>'
    rows = []
    for name, op in part.operations.items():
        errors = ", ".join(f"{k} {v}" for k, v in op.errors.items())
        extras = []
        if op.dropped:
            extras.append(f"dropped {op.dropped}")
        if op.lateness is not None:
            extras.append(f"lateness p99 {_ms(op.lateness.p99_ms)}")
        extras += [f"{label} p99 {_ms(stats.p99_ms)}" for label, stats in notable_harness_times(op)]
        if op.source:
            extras.append(f"from {op.source}")
        if op.not_measured:
            extras.append(op.not_measured)
        success = op.success_rate
        rows.append(
            f'<tr class="{"failed" if op.failed else ""}"><td><code>{escape(name)}</code></td>'
            f'<td class="num">{_num(op.count)}</td><td class="num">{_num(op.failed)}</td>'
            f'<td class="num">{"-" if success is None else f"{success:.2%}"}</td>'
            f'<td class="num">{_num(op.throughput)}</td>'
            + "".join(f'<td class="num">{_ms(op.stat(k))}</td>'
                      for k in ("min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"))
            + f"<td>{escape('; '.join([errors, *extras] if errors else extras))}</td></tr>"
        )
    head = "".join(f'<th class="num">{c}</th>' for c in ("count", "failed", "success", "rate/s", "min", "mean",
                                                          "p50", "p90", "p95", "p99", "max"))
    return (f"<table><thead><tr><th>operation</th>{head}<th>errors / notes</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _scenario_section(part: ScenarioPart, charts: list[tuple[str, dict[str, Any]]], first_id: int,
                      timeline: ScenarioTimeline | None) -> tuple[str, dict[str, Any]]:
    name = part.name
    specs: dict[str, Any] = {}
    boxes = []
    for offset, (title, spec) in enumerate(charts):
        chart_id = f"c{first_id + offset}"
        specs[chart_id] = {**spec, "title": title}
        boxes.append(f'<div class="chart-box"><h4>{escape(title)}</h4><div class="chart" data-chart="{chart_id}">'
                     "</div></div>")
    window = part.duration_s
    meta = [escape(part.mode), f"status {escape(str(part.status))}"]
    if window is not None:
        meta.append(f"{window:.1f}s window")
    if part.load_duration_s is not None:
        meta.append(f"{part.load_duration_s:.1f}s load (rates are per second of it)")
    if part.start:
        meta.append(f"{escape(part.start)} \u2013 {escape(part.end or '?')}")
    parts = [
        f'<section class="scenario" id="{_anchor(name)}"><header><h2>{escape(name)} '
        f'{_badge(_passed(part))}</h2>'
        f'<span class="muted">{_DOT.join(meta)}</span></header>'
    ]
    if part.message:
        parts.append(f'<div class="banner fail">{escape(part.message)}</div>')
    if part.notes:
        parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in part.notes) + "</ul>")
    parts.append("<h3>Checks and thresholds</h3>" + _checks_table(part))
    parts.append(_baseline_table(part))
    parts.append("<h3>Operations</h3>" + _operations_table(part))
    parts.append(prometheus_html(part))  # observability (issue 13)
    if boxes:
        parts.append('<h3>Charts</h3><div class="charts">' + "".join(boxes) + "</div>")
    elif timeline is None:
        parts.append('<p class="empty">no events.jsonl: no charts</p>')
    parts.append("</section>")
    return "".join(parts), specs


def _charts_section(title: str, charts: list[tuple[str, dict[str, Any]]], first_id: int) -> tuple[str, dict[str, Any]]:
    """A section of charts only (the load generator's health); empty without charts."""
    if not charts:
        return "", {}
    specs: dict[str, Any] = {}
    boxes = []
    for offset, (chart_title, spec) in enumerate(charts):
        chart_id = f"c{first_id + offset}"
        specs[chart_id] = {**spec, "title": chart_title}
        boxes.append(f'<div class="chart-box"><h4>{escape(chart_title)}</h4><div class="chart" '
                     f'data-chart="{chart_id}"></div></div>')
    html = (f'<section class="scenario" id="{_anchor(title)}"><header><h2>{escape(title)}</h2>'
            '<span class="muted">this process, sampled every second</span></header>'
            '<div class="charts">' + "".join(boxes) + "</div></section>")
    return html, specs


def _passed(part: ScenarioPart) -> bool | None:
    """The entry's verdict, None when it was not judged."""
    return part.verdict.passed if part.verdict is not None else None


def _targets(summary: SummaryDocument) -> tuple[str, str]:
    items = []
    banner = ""
    for name, target in summary.targets.items():
        text = target.description or target.url or ""
        version = target.version
        items.append(f"{escape(name)}: {escape(text)}"
                     + (f" (version {escape(version)})" if version else ""))
        if "simulator" in (target.kind or "") or "simulator" in text:
            banner = ('<div class="banner">The target was the embedded KFP simulator, not a cluster: the numbers '
                      "measure the framework and the simulator only.</div>")
    return "<br>".join(items) or "-", banner


def _shards_table(summary: SummaryDocument) -> str:
    """A scaled-out run's numbers per shard, entry and operation (a shard that lagged is a finding)."""
    section = summary.scaleout
    if section is None:
        return ""
    rows = []
    for shard in section.per_shard:
        late = shard.start_lateness_s or 0
        for name, entry in shard.entries.items():
            for op, stats in entry.operations.items():
                lateness = stats.lateness.p99_ms if stats.lateness is not None else None
                rows.append(
                    f'<tr><td>{escape(shard.shard)}</td><td>{escape(name)}</td><td>{escape(op)}</td>'
                    f'<td class="num">{_num(stats.count)}</td><td class="num">{_num(stats.failed)}</td>'
                    f'<td class="num">{_num(stats.throughput, 1)}</td><td class="num">{_ms(stats.p99_ms)}'
                    f'</td><td class="num">{_num(stats.dropped)}</td><td class="num">{_ms(lateness)}</td>'
                    f'<td class="num">{_num(late, 2)}</td></tr>')
    if not rows:
        return ""
    health_table = _shard_health(section.per_shard)
    return (f'<h3>Shards ({_num(section.shards)}, merged above)</h3><table><thead><tr><th>shard</th>'
            '<th>entry</th><th>operation</th><th class="num">count</th><th class="num">failed</th>'
            '<th class="num">rate/s</th><th class="num">p99</th><th class="num">dropped</th>'
            '<th class="num">p99 lateness</th><th class="num">late start s</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>" + health_table
            + (f'<p class="muted">{escape(section.note)}</p>' if section.note else ""))


def _shard_health(shards: Sequence[ShardPart]) -> str:
    """Each shard's load-generator health (each shard sampled its own process; the run's is the worst)."""
    rows = []
    for shard in shards:
        harness = shard.harness
        if harness is None or harness.cpu_max is None:
            continue
        lateness = max(harness.lateness_p99_ms.values(), default=None)
        state = ("saturated: " + "; ".join(harness.reasons)) if harness.saturated else "ok"
        rows.append(f"<tr><td>{escape(shard.shard)}</td>"
                    f'<td class="num">{_num(harness.cpu_mean, 2)}</td>'
                    f'<td class="num">{_num(harness.cpu_max, 2)}</td><td class="num">{_ms(lateness)}</td>'
                    f"<td>{escape(state)}</td></tr>")
    if not rows:
        return ""
    return ('<h3>Load generator per shard</h3><table><thead><tr><th>shard</th><th class="num">CPU mean</th>'
            '<th class="num">CPU max</th><th class="num">send lateness p99</th><th>health</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def render_html(summary: SummaryDocument, timelines: Timelines | None = None,
                observations: Mapping[str, EntryObservation] | None = None) -> str:
    """The whole report page for a summary (and the timelines of its events, and the Prometheus series of
    ``prometheus/<entry>.json``, if any)."""
    run_id = summary.run_id
    interrupted = summary.interrupted
    passed = summary.passed
    targets, target_banner = _targets(summary)
    sections = []
    specs: dict[str, Any] = {}
    nav_rows = []
    for part in summary.scenarios:
        name = part.name
        timeline = timelines.scenarios.get(name) if timelines else None
        charts = scenario_charts(part, timeline, timelines)
        # observability (issue 13): the entry's Prometheus series, on the load charts' axis (seconds after t0).
        t0 = timelines.t0 if timelines else (_epoch(summary.start) or 0.0)
        if observations and name in observations:
            charts += prometheus_charts(observations[name], t0)
        html_part, part_specs = _scenario_section(part, charts, len(specs), timeline)
        sections.append(html_part)
        specs.update(part_specs)
        failed = part.verdict.failures() if part.verdict is not None else []
        nav_rows.append(
            f'<tr class="{"failed" if failed else ""}"><td><a href="#{_anchor(name)}">{escape(name)}</a></td>'
            f"<td>{escape(part.mode)}</td><td>{escape(str(part.status))}</td>"
            f'<td class="num">{_num(part.duration_s, 3)}</td><td class="num">{_num(part.totals.count)}</td>'
            f'<td class="num">{_num(part.totals.failed)}</td>'
            f"<td>{_badge(_passed(part))}"
            f'{escape("; ".join(c.name for c in failed))}</td></tr>'
        )
    banners = [target_banner, harness_html(summary)]
    t0_run = timelines.t0 if timelines else (_epoch(summary.start) or 0.0)
    harness_part, harness_specs = _charts_section("Load generator", harness_charts(summary, t0_run), len(specs))
    specs.update(harness_specs)
    if interrupted:
        banners.append('<div class="banner fail">The run was interrupted: entries may have stopped early.</div>')
    if summary.rebuilt_from_events:
        banners.append('<div class="banner">summary.json was missing and was rebuilt from events.jsonl '
                       "(the run probably died): no scenario thresholds beyond what the events tell.</div>")
    scenario_file = summary.scenario_file
    raw = json.dumps(summary.scenario, indent=2)
    environment = json.dumps(summary.environment.as_json(), indent=2)
    generated = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    data = json.dumps(finite_json({"charts": specs}), separators=(",", ":"), allow_nan=False, default=str)
    data = data.replace("</", "<\\/")  # keep the JSON from closing its <script> element
    bucket = f", charts in {timelines.bucket_s}s buckets" if timelines else ""
    duration = summary.duration_s
    head = (
        f"<header><h1>Performance report {_badge(passed, interrupted)}</h1>"
        f'<dl class="meta"><dt>run</dt><dd>{escape(run_id)}</dd>'
        f"<dt>window</dt><dd>{escape(str(summary.start))} \u2013 {escape(str(summary.end))}"
        f'{f" ({duration:.1f}s)" if duration is not None else ""}{bucket}</dd>'
        f"<dt>target</dt><dd>{targets}</dd>"
        f'<dt>scenario file</dt><dd>{escape(str(scenario_file or "-"))}</dd></dl>'
        + "".join(banners) + "</header>"
    )
    nav = ('<h3>Scenario entries</h3><table><thead><tr><th>entry</th><th>mode</th><th>status</th>'
           '<th class="num">window s</th><th class="num">operations</th><th class="num">failed</th><th>verdict</th>'
           "</tr></thead><tbody>" + "".join(nav_rows) + "</tbody></table>")
    details = (f"<details><summary>Scenario as run</summary><pre><code>{escape(raw)}</code></pre></details>"
               f"<details><summary>Environment</summary><pre><code>{escape(environment)}</code></pre></details>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>perf-tests {escape(run_id)}</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{_asset('report.css')}</style></head><body><main>"
        + head + nav + _shards_table(summary) + comparison_html(comparison_rows(summary)) + "".join(sections)
        + harness_part + details
        + f"<footer>generated {generated} by perf-tests {escape(__version__)} from summary.json"
        + (" and events.jsonl" if timelines else "") + "</footer></main>"
        + f'<script type="application/json" id="perf-data">{data}</script>'
        + f"<script>{_asset('report.js')}</script></body></html>\n"
    )


def _epoch(value: str | None) -> float | None:
    """An ISO 8601 time of the summary as epoch seconds (None when absent or not readable)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def write_html_report(summary: SummaryDocument, results_dir: Path, events: Path | None = None) -> Path:
    """Write ``report.html`` into the results directory (timelines from ``events``, default
    ``events.jsonl`` there) and return its path."""
    events = events or results_dir / "events.jsonl"
    timelines = None
    if events.is_file():
        timelines = build_timelines(events, t0=_epoch(summary.start), t_end=_epoch(summary.end))
    path = results_dir / HTML_FILE_NAME
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(summary, timelines, load_observations(results_dir)), encoding="utf-8")
    tmp.replace(path)
    return path
