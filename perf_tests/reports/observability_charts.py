"""The report's view of observability: Prometheus series per entry, and the load generator's own health.

Series come from ``prometheus/<entry>.json`` (``perf_tests.observability``), drawn with x in seconds after the
run's t0, the axis of the load charts; aggregates and statuses from the summary. A query without data says
"no data"; an entry whose queries were not made says why (PROMETHEUS_URL unset).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

__all__ = ["harness_charts", "harness_html", "load_observations", "prometheus_charts", "prometheus_html"]

logger = logging.getLogger(__name__)

_MAX_FILE_BYTES = 64 * 1024 * 1024
_AGGREGATES = ("min", "mean", "max", "last")
_MAX_SERIES = 12  # lines in one chart; a query by method on a busy server can have many


def load_observations(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Entry name -> its stored observation (files that cannot be read are skipped, with a log line)."""
    out: dict[str, dict[str, Any]] = {}
    folder = results_dir / "prometheus"
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            if path.stat().st_size > _MAX_FILE_BYTES:
                continue
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("report: cannot read %s (%s)", path, exc)
            continue
        if isinstance(data, dict) and isinstance(data.get("entry"), str):
            out[data["entry"]] = data
    return out


def _label(labels: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("__name__", "job", "instance")}
    return ",".join(f"{k}={v}" for k, v in sorted(shown.items())) or "value"


def prometheus_charts(observation: Mapping[str, Any], t0: float) -> list[tuple[str, dict[str, Any]]]:
    """One line chart per query of the entry's own window, x in seconds after ``t0``."""
    windows = observation.get("windows") or []
    if not windows:
        return []
    step = observation.get("step_s") or 1
    charts = []
    for query in windows[0].get("queries") or []:
        series = [s for s in query.get("series") or [] if s.get("values")][:_MAX_SERIES]
        if not series:
            continue
        stamps = sorted({float(t) for s in series for t, _ in s["values"]})
        x = [round(t - t0, 3) for t in stamps]
        lines = []
        for item in series:
            by_time = {float(t): v for t, v in item["values"]}
            lines.append({"name": _label(item.get("labels") or {}), "values": [by_time.get(t) for t in stamps]})
        charts.append((f"Prometheus: {query.get('name')} (every {step:g}s)",
                       {"type": "line", "unit": "", "x": x, "bucket": step, "series": lines}))
    return charts


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"


def prometheus_html(part: Mapping[str, Any]) -> str:
    """The entry's Prometheus queries: status and min / mean / max / last over its window."""
    observed = part.get("prometheus")
    if not isinstance(observed, Mapping):
        return ""
    if observed.get("status") != "ok":
        return (f'<h3>Prometheus</h3><p class="empty">{escape(str(observed.get("message") or observed.get("status")))}'
                "</p>")
    rows = []
    for name, query in (observed.get("queries") or {}).items():
        aggregate = query.get("aggregate") or {}
        status = str(query.get("status"))
        shown = "no data" if status == "no_data" else status
        rows.append(f"<tr><td>prom:{escape(str(name))}</td><td>{escape(shown)}</td>"
                    + "".join(f'<td class="num">{_number(aggregate.get(k))}</td>' for k in _AGGREGATES)
                    + f'<td><code>{escape(str(query.get("expr", "")))}</code></td></tr>')
    return ('<h3>Prometheus</h3><p class="muted">' + escape(str(observed.get("url") or "")) + "</p>"
            '<table><thead><tr><th>query</th><th>status</th><th class="num">min</th><th class="num">mean</th>'
            '<th class="num">max</th><th class="num">last</th><th>PromQL</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def harness_charts(summary: Mapping[str, Any], t0: float) -> list[tuple[str, dict[str, Any]]]:
    """CPU share and event-loop lag of the load generator, x in seconds after ``t0``."""
    harness = summary.get("harness")
    if not isinstance(harness, Mapping) or not harness.get("samples"):
        return []
    samples = harness["samples"]
    x = [round(float(s["t"]) - t0, 3) for s in samples]
    charts = [("Load generator: CPU (share of one core) and open connections", {
        "type": "line", "unit": "", "x": x, "bucket": 1,
        "series": [{"name": "cpu", "values": [s.get("cpu") for s in samples]},
                   {"name": "connections", "dash": True, "values": [s.get("connections") for s in samples]}]})]
    runners = sorted({name for s in samples for name in (s.get("loop_lag_ms") or {})})
    if runners:
        charts.append(("Load generator: event-loop lag per runner", {
            "type": "line", "unit": "ms", "x": x, "bucket": 1,
            "series": [{"name": name, "values": [(s.get("loop_lag_ms") or {}).get(name) for s in samples]}
                       for name in runners]}))
    return charts


def harness_html(summary: Mapping[str, Any]) -> str:
    """One line on the generator's health; a warning banner when it was saturated."""
    harness = summary.get("harness")
    if not isinstance(harness, Mapping):
        return ""
    shards = harness.get("shards")
    worst = f"worst of {len(shards)} shards: " if isinstance(shards, list) and shards else ""
    facts = (f"{worst}CPU mean {_number(harness.get('cpu_mean'))}, max {_number(harness.get('cpu_max'))} of one core; "
             f"RSS max {_number(harness.get('rss_max_mb'))} MiB; connections max "
             f"{_number(harness.get('connections_max'))}")
    if harness.get("saturated"):
        return ('<div class="banner fail">The load generator was saturated: its numbers may measure the client, '
                f'not the target ({escape("; ".join(harness.get("reasons") or []))}). {escape(facts)}</div>')
    return f'<p class="muted">Load generator: {escape(facts)}</p>'
