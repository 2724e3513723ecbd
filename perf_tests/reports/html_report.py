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
from perf_tests.recorder.event_codec import finite_json
from perf_tests.reports.harness_comparison import comparison_html, comparison_rows
from perf_tests.reports.observability_charts import (
    harness_charts,
    harness_html,
    load_observations,
    prometheus_charts,
    prometheus_html,
)
from perf_tests.reports.timeline import ScenarioTimeline, Timelines, build_timelines
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


def _window(part: Mapping[str, Any], timeline: ScenarioTimeline | None, t: Sequence[float]) -> tuple[int, int]:
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
    part: Mapping[str, Any], timeline: ScenarioTimeline | None, timelines: Timelines | None
) -> list[tuple[str, dict[str, Any]]]:
    """(title, chart spec) pairs for one scenario entry, in page order."""
    charts: list[tuple[str, dict[str, Any]]] = []
    operations: Mapping[str, Any] = part.get("operations") or {}
    if timeline is not None and timelines is not None:
        lo, hi = _window(part, timeline, timelines.t)
        x = timelines.t[lo:hi + 1]
        bucket = timelines.bucket_s
        order = list(operations) + [op for op in timeline.operations if op not in operations]
        series_ops = [timeline.operations[op] for op in order if op in timeline.operations]
        busy = [op for op in series_ops
                if sum(1 for ok, failed in zip(op.ok_rate[lo:hi + 1], op.failed_rate[lo:hi + 1], strict=True)
                       if ok or failed) >= _MIN_BUCKETS_FOR_TIMELINE]
        limits: dict[str, list[dict[str, Any]]] = {}
        for result in part.get("thresholds") or []:
            if result.get("kind") == "latency" and result.get("operation") and result.get("limit") is not None:
                limits.setdefault(result["operation"], []).append(
                    {"value": result["limit"], "label": result["threshold"]})
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
    external = {name: op for name, op in operations.items() if op.get("source")}
    if external:
        names = [name for name, op in external.items() if any(op.get(k) is not None for k in _PCTS)]
        sources = sorted({str(op.get("source")) for op in external.values()})
        if names:
            charts.append((f"{part.get('mode', '')} metrics from {', '.join(sources)}", {
                "type": "bar", "unit": "ms", "categories": names,
                "series": [{"name": key.removesuffix("_ms"), "values": [external[n].get(key) for n in names]}
                           for key in _PCTS],
            }))
        tokens = [name for name, op in external.items() if op.get("unit") == "tokens"
                  and any(op.get(k) is not None for k in _PLAIN_PCTS)]
        if tokens:
            charts.append((f"{part.get('mode', '')} tokens per request from {', '.join(sources)}", {
                "type": "bar", "unit": "", "categories": tokens,
                "series": [{"name": key, "values": [external[n].get(key) for n in tokens]} for key in _PLAIN_PCTS],
            }))
    return charts


_PCTS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms")
_PLAIN_PCTS = ("p50", "p90", "p95", "p99")
_DOT = " \u00b7 "




def _round_series(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "values": _round(item["values"])} for item in series]


def _checks_table(part: Mapping[str, Any]) -> str:
    verdict = part.get("verdict") or {}
    checks = verdict.get("checks") or []
    if not checks:
        return '<p class="empty">not judged</p>'
    by_threshold = {t.get("threshold"): t for t in part.get("thresholds") or []}
    rows = []
    name = str(part.get("name", ""))
    for check in checks:
        result = by_threshold.get(check.get("name"))
        if result is not None:
            measured, limit = result.get("measured_text", "-"), result.get("limit_text", "-")
            kind = "skip" if result.get("skipped") else ("pass" if check.get("passed") else "fail")
            label = "SKIPPED" if result.get("skipped") else ("PASS" if check.get("passed") else "FAIL")
        else:
            measured, limit = _check_value(check, "measured"), _check_value(check, "limit")
            kind = "pass" if check.get("passed") else "fail"
            label = "PASS" if check.get("passed") else "FAIL"
        message = str(check.get("message", "")).removeprefix(f"{name}: ")
        rows.append(
            f'<tr class="{"failed" if not check.get("passed") else ""}"><td><span class="badge {kind}">{label}'
            f'</span></td><td><code>{escape(str(check.get("name", "")))}</code></td>'
            f'<td class="num">{escape(str(measured))}</td><td class="num">{escape(str(limit))}</td>'
            f"<td>{escape(message)}</td></tr>"
        )
    return ('<table class="checks"><thead><tr><th>result</th><th>check</th><th class="num">measured</th>'
            '<th class="num">limit</th><th>message</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def _check_value(check: Mapping[str, Any], key: str) -> str:
    value = check.get(key)
    name = str(check.get("name", ""))
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


def _baseline_table(part: Mapping[str, Any]) -> str:
    baseline = part.get("baseline")
    if not isinstance(baseline, Mapping):
        return ""
    comparisons = list(baseline.get("comparisons") or [])
    compared = sorted((c for c in comparisons if c.get("status") != "skipped"),
                      key=lambda c: ({"regression": 0, "improvement": 1}.get(c.get("status"), 2),
                                     str(c.get("operation")), str(c.get("metric"))))
    rows = []
    for item in compared:
        kind = str(item.get("kind") or "latency")
        percent = kind == "ratio"
        status = str(item.get("status"))
        badge = {"regression": "fail", "improvement": "pass"}.get(status, "")
        change = item.get("change")
        rows.append(
            f'<tr class="{"failed" if status == "regression" else ""}"><td>{escape(str(item.get("operation")))}</td>'
            f'<td>{escape(str(item.get("metric")))}</td>'
            f'<td class="num">{format_value(item.get("baseline"), kind, percent)}</td>'
            f'<td class="num">{format_value(item.get("value"), kind, percent)}</td>'
            f'<td class="num">{"-" if change is None else f"{change:+.1%}"}</td>'
            f'<td><span class="badge {badge}">{escape(status)}</span></td></tr>'
        )
    skipped: dict[str, list[Mapping[str, Any]]] = {}
    for item in comparisons:
        if item.get("status") == "skipped":
            skipped.setdefault(str(item.get("operation")), []).append(item)
    head = (f'<h3>Baseline: run {escape(str(baseline.get("run_id")))} '
            f'<span class="muted">(tolerance {float(baseline.get("tolerance") or 0):.0%}, '
            f'{baseline.get("regressions", 0)} regressed, {baseline.get("improvements", 0)} improved, '
            f"{len(compared)} compared)</span></h3>")
    table = ""
    if rows:
        table = ('<table><thead><tr><th>operation</th><th>metric</th><th class="num">baseline</th>'
                 '<th class="num">this run</th><th class="num">change</th><th>status</th></tr></thead><tbody>'
                 + "".join(rows) + "</tbody></table>")
    if skipped:
        lines = "".join(
            f"<li><code>{escape(op)}</code> {escape(', '.join(str(i.get('metric')) for i in items))}: "
            f"{escape(str(items[0].get('reason')))}</li>"
            for op, items in skipped.items()
        )
        table += (f"<details><summary>{sum(len(i) for i in skipped.values())} comparisons skipped</summary>"
                  f"<ul>{lines}</ul></details>")
    return head + table


def _operations_table(part: Mapping[str, Any]) -> str:
    operations: Mapping[str, Any] = part.get("operations") or {}
    if not operations:
        return '<p class="empty">no operations recorded</p>'
    rows = []
    for name, op in operations.items():
        errors = ", ".join(f"{k} {v}" for k, v in (op.get("errors") or {}).items())
        extras = []
        if op.get("dropped"):
            extras.append(f"dropped {op['dropped']}")
        lateness = op.get("lateness")
        if isinstance(lateness, Mapping):
            extras.append(f"lateness p99 {_ms(lateness.get('p99_ms'))}")
        queue_wait = op.get("queue_wait")
        if isinstance(queue_wait, Mapping) and (queue_wait.get("p99_ms") or 0) >= 1:
            extras.append(f"queue wait p99 {_ms(queue_wait.get('p99_ms'))}")
        if op.get("source"):
            extras.append(f"from {op['source']}")
        if op.get("not_measured"):
            extras.append(str(op["not_measured"]))
        success = op.get("success_rate")
        rows.append(
            f'<tr class="{"failed" if op.get("failed") else ""}"><td><code>{escape(name)}</code></td>'
            f'<td class="num">{_num(op.get("count"))}</td><td class="num">{_num(op.get("failed"))}</td>'
            f'<td class="num">{"-" if success is None else f"{success:.2%}"}</td>'
            f'<td class="num">{_num(op.get("throughput"))}</td>'
            + "".join(f'<td class="num">{_ms(op.get(k))}</td>'
                      for k in ("min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"))
            + f"<td>{escape('; '.join([errors, *extras] if errors else extras))}</td></tr>"
        )
    head = "".join(f'<th class="num">{c}</th>' for c in ("count", "failed", "success", "rate/s", "min", "mean",
                                                          "p50", "p90", "p95", "p99", "max"))
    return (f"<table><thead><tr><th>operation</th>{head}<th>errors / notes</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _scenario_section(part: Mapping[str, Any], charts: list[tuple[str, dict[str, Any]]], first_id: int,
                      timeline: ScenarioTimeline | None) -> tuple[str, dict[str, Any]]:
    name = str(part.get("name", ""))
    verdict = part.get("verdict") or {}
    specs: dict[str, Any] = {}
    boxes = []
    for offset, (title, spec) in enumerate(charts):
        chart_id = f"c{first_id + offset}"
        specs[chart_id] = {**spec, "title": title}
        boxes.append(f'<div class="chart-box"><h4>{escape(title)}</h4><div class="chart" data-chart="{chart_id}">'
                     "</div></div>")
    window = part.get("duration_s")
    meta = [f'{escape(str(part.get("mode", "")))}', f'status {escape(str(part.get("status")))}']
    if isinstance(window, int | float):
        meta.append(f"{window:.1f}s window")
    if part.get("start"):
        meta.append(f'{escape(str(part.get("start")))} \u2013 {escape(str(part.get("end") or "?"))}')
    parts = [
        f'<section class="scenario" id="{_anchor(name)}"><header><h2>{escape(name)} '
        f'{_badge(verdict.get("passed") if verdict else None)}</h2>'
        f'<span class="muted">{_DOT.join(meta)}</span></header>'
    ]
    if part.get("message"):
        parts.append(f'<div class="banner fail">{escape(str(part["message"]))}</div>')
    notes = list(part.get("notes") or [])
    if notes:
        parts.append("<ul>" + "".join(f"<li>{escape(str(n))}</li>" for n in notes) + "</ul>")
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


def _targets(summary: Mapping[str, Any]) -> tuple[str, str]:
    items = []
    banner = ""
    for name, target in (summary.get("targets") or {}).items():
        if not isinstance(target, Mapping):
            continue
        text = target.get("description") or target.get("url") or ""
        version = target.get("version")
        items.append(f"{escape(str(name))}: {escape(str(text))}"
                     + (f" (version {escape(str(version))})" if version else ""))
        if "simulator" in str(target.get("kind", "")) or "simulator" in str(text):
            banner = ('<div class="banner">The target was the embedded KFP simulator, not a cluster: the numbers '
                      "measure the framework and the simulator only.</div>")
    return "<br>".join(items) or "-", banner


def _shards_table(summary: Mapping[str, Any]) -> str:
    """A scaled-out run's numbers per shard, entry and operation (a shard that lagged is a finding)."""
    section = summary.get("scaleout") or {}
    rows = []
    for shard in section.get("per_shard") or []:
        late = shard.get("start_lateness_s") or 0
        for name, entry in (shard.get("entries") or {}).items():
            for op, stats in (entry.get("operations") or {}).items():
                lateness = (stats.get("lateness") or {}).get("p99_ms")
                rows.append(
                    f'<tr><td>{escape(str(shard.get("shard")))}</td><td>{escape(name)}</td><td>{escape(op)}</td>'
                    f'<td class="num">{_num(stats.get("count"))}</td><td class="num">{_num(stats.get("failed"))}</td>'
                    f'<td class="num">{_num(stats.get("throughput"), 1)}</td><td class="num">{_ms(stats.get("p99_ms"))}'
                    f'</td><td class="num">{_num(stats.get("dropped"))}</td><td class="num">{_ms(lateness)}</td>'
                    f'<td class="num">{_num(late, 2)}</td></tr>')
    if not rows:
        return ""
    health_table = _shard_health(section.get("per_shard") or [])
    return (f'<h3>Shards ({_num(section.get("shards"))}, merged above)</h3><table><thead><tr><th>shard</th>'
            '<th>entry</th><th>operation</th><th class="num">count</th><th class="num">failed</th>'
            '<th class="num">rate/s</th><th class="num">p99</th><th class="num">dropped</th>'
            '<th class="num">p99 lateness</th><th class="num">late start s</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>" + health_table
            + (f'<p class="muted">{escape(str(section["note"]))}</p>' if section.get("note") else ""))


def _shard_health(shards: Sequence[Mapping[str, Any]]) -> str:
    """Each shard's load-generator health (each shard sampled its own process; the run's is the worst)."""
    rows = []
    for shard in shards:
        harness = shard.get("harness") or {}
        if harness.get("cpu_max") is None:
            continue
        lateness = max((harness.get("lateness_p99_ms") or {}).values(), default=None)
        state = ("saturated: " + "; ".join(harness.get("reasons") or [])) if harness.get("saturated") else "ok"
        rows.append(f'<tr><td>{escape(str(shard.get("shard")))}</td>'
                    f'<td class="num">{_num(harness.get("cpu_mean"), 2)}</td>'
                    f'<td class="num">{_num(harness.get("cpu_max"), 2)}</td><td class="num">{_ms(lateness)}</td>'
                    f"<td>{escape(state)}</td></tr>")
    if not rows:
        return ""
    return ('<h3>Load generator per shard</h3><table><thead><tr><th>shard</th><th class="num">CPU mean</th>'
            '<th class="num">CPU max</th><th class="num">send lateness p99</th><th>health</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def render_html(summary: Mapping[str, Any], timelines: Timelines | None = None,
                observations: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The whole report page for a summary (and the timelines of its events, and the Prometheus series of
    ``prometheus/<entry>.json``, if any)."""
    run_id = str(summary.get("run_id", ""))
    interrupted = bool(summary.get("interrupted"))
    passed = summary.get("passed")
    targets, target_banner = _targets(summary)
    sections = []
    specs: dict[str, Any] = {}
    nav_rows = []
    for part in summary.get("scenarios", []):
        name = str(part.get("name", ""))
        timeline = timelines.scenarios.get(name) if timelines else None
        charts = scenario_charts(part, timeline, timelines)
        # observability (issue 13): the entry's Prometheus series, on the load charts' axis (seconds after t0).
        t0 = timelines.t0 if timelines else (_epoch(summary, "start") or 0.0)
        if observations and name in observations:
            charts += prometheus_charts(observations[name], t0)
        html_part, part_specs = _scenario_section(part, charts, len(specs), timeline)
        sections.append(html_part)
        specs.update(part_specs)
        verdict = part.get("verdict") or {}
        totals = part.get("totals") or {}
        failed = [c for c in verdict.get("checks") or [] if not c.get("passed")]
        nav_rows.append(
            f'<tr class="{"failed" if failed else ""}"><td><a href="#{_anchor(name)}">{escape(name)}</a></td>'
            f'<td>{escape(str(part.get("mode", "")))}</td><td>{escape(str(part.get("status")))}</td>'
            f'<td class="num">{_num(part.get("duration_s"), 3)}</td><td class="num">{_num(totals.get("count"))}</td>'
            f'<td class="num">{_num(totals.get("failed"))}</td>'
            f'<td>{_badge(verdict.get("passed") if verdict else None)}'
            f'{escape("; ".join(str(c.get("name")) for c in failed))}</td></tr>'
        )
    banners = [target_banner, harness_html(summary)]
    t0_run = timelines.t0 if timelines else (_epoch(summary, "start") or 0.0)
    harness_part, harness_specs = _charts_section("Load generator", harness_charts(summary, t0_run), len(specs))
    specs.update(harness_specs)
    if interrupted:
        banners.append('<div class="banner fail">The run was interrupted: entries may have stopped early.</div>')
    if summary.get("rebuilt_from_events"):
        banners.append('<div class="banner">summary.json was missing and was rebuilt from events.jsonl '
                       "(the run probably died): no scenario thresholds beyond what the events tell.</div>")
    scenario_file = summary.get("scenario_file")
    raw = json.dumps(summary.get("scenario", []), indent=2)
    environment = json.dumps(summary.get("environment", {}), indent=2)
    generated = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    data = json.dumps(finite_json({"charts": specs}), separators=(",", ":"), allow_nan=False, default=str)
    data = data.replace("</", "<\\/")  # keep the JSON from closing its <script> element
    bucket = f", charts in {timelines.bucket_s}s buckets" if timelines else ""
    duration = summary.get("duration_s")
    head = (
        f"<header><h1>Performance report {_badge(passed if isinstance(passed, bool) else None, interrupted)}</h1>"
        f'<dl class="meta"><dt>run</dt><dd>{escape(run_id)}</dd>'
        f'<dt>window</dt><dd>{escape(str(summary.get("start")))} \u2013 {escape(str(summary.get("end")))}'
        f'{f" ({duration:.1f}s)" if isinstance(duration, int | float) else ""}{bucket}</dd>'
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


def _epoch(summary: Mapping[str, Any], key: str) -> float | None:
    value = summary.get(key)
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def write_html_report(summary: Mapping[str, Any], results_dir: Path, events: Path | None = None) -> Path:
    """Write ``report.html`` into the results directory (timelines from ``events``, default
    ``events.jsonl`` there) and return its path."""
    events = events or results_dir / "events.jsonl"
    timelines = None
    if events.is_file():
        timelines = build_timelines(events, t0=_epoch(summary, "start"), t_end=_epoch(summary, "end"))
    path = results_dir / HTML_FILE_NAME
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(summary, timelines, load_observations(results_dir)), encoding="utf-8")
    tmp.replace(path)
    return path
