"""The report's view of observability: Prometheus series per entry, and the load generator's own health.

Series come from ``prometheus/<entry>.json`` (``perf_tests.observability``), drawn with x in seconds after the
run's t0, the axis of the load charts; aggregates and statuses from the summary. A query without data says
"no data"; an entry whose queries were not made says why (PROMETHEUS_URL unset).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from perf_tests.observability.models import EntryObservation
from perf_tests.results.summary import ScenarioPart, SummaryDocument

__all__ = ["harness_charts", "harness_html", "load_observations", "prometheus_charts", "prometheus_html"]

logger = logging.getLogger(__name__)

_MAX_FILE_BYTES = 64 * 1024 * 1024
_AGGREGATES = ("min", "mean", "max", "last")
_MAX_SERIES = 12  # lines in one chart; a query by method on a busy server can have many


def load_observations(results_dir: Path) -> dict[str, EntryObservation]:
    """Entry name -> its stored observation (files that cannot be read are skipped, with a log line)."""
    out: dict[str, EntryObservation] = {}
    folder = results_dir / "prometheus"
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            if path.stat().st_size > _MAX_FILE_BYTES:
                continue
            observation = EntryObservation.model_validate_json(path.read_bytes())
        except (OSError, ValueError) as exc:  # a pydantic ValidationError is a ValueError
            logger.warning("report: cannot read %s (%s)", path, str(exc).splitlines()[0])
            continue
        out[observation.entry] = observation
    return out


def _label(labels: Mapping[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("__name__", "job", "instance")}
    return ",".join(f"{k}={v}" for k, v in sorted(shown.items())) or "value"


def prometheus_charts(observation: EntryObservation, t0: float) -> list[tuple[str, dict[str, Any]]]:
    """One line chart per query of the entry's own window, x in seconds after ``t0``."""
    if not observation.windows:
        return []
    step = observation.step_s or 1
    charts = []
    for query in observation.windows[0].queries:
        series = [s for s in query.series if s.values][:_MAX_SERIES]
        if not series:
            continue
        stamps = sorted({t for s in series for t, _ in s.values})
        x = [round(t - t0, 3) for t in stamps]
        lines = []
        for item in series:
            by_time = dict(item.values)
            lines.append({"name": _label(item.labels), "values": [by_time.get(t) for t in stamps]})
        charts.append((f"Prometheus: {query.name} (every {step:g}s)",
                       {"type": "line", "unit": "", "x": x, "bucket": step, "series": lines}))
    return charts


def _number(value: float | None) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"


def prometheus_html(part: ScenarioPart) -> str:
    """The entry's Prometheus queries: status and min / mean / max / last over its window."""
    observed = part.prometheus
    if observed is None:
        return ""
    if observed.status != "ok":
        return (f'<h3>Prometheus</h3><p class="empty">{escape(observed.message or observed.status)}'
                "</p>")
    rows = []
    for name, query in observed.queries.items():
        aggregate = query.aggregate
        shown = "no data" if query.status == "no_data" else query.status
        rows.append(f"<tr><td>prom:{escape(name)}</td><td>{escape(shown)}</td>"
                    + "".join(f'<td class="num">{_number(getattr(aggregate, k) if aggregate else None)}</td>'
                              for k in _AGGREGATES)
                    + f"<td><code>{escape(query.expr)}</code></td></tr>")
    return ('<h3>Prometheus</h3><p class="muted">' + escape(observed.url or "") + "</p>"
            '<table><thead><tr><th>query</th><th>status</th><th class="num">min</th><th class="num">mean</th>'
            '<th class="num">max</th><th class="num">last</th><th>PromQL</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def harness_charts(summary: SummaryDocument, t0: float) -> list[tuple[str, dict[str, Any]]]:
    """CPU share and event-loop lag of the load generator, x in seconds after ``t0``."""
    harness = summary.harness
    if harness is None or not harness.samples:
        return []
    samples = harness.samples
    x = [round(s.t - t0, 3) for s in samples]
    charts = [("Load generator: CPU (share of one core) and open connections", {
        "type": "line", "unit": "", "x": x, "bucket": 1,
        "series": [{"name": "cpu", "values": [s.cpu for s in samples]},
                   {"name": "connections", "dash": True, "values": [s.connections for s in samples]}]})]
    runners = sorted({name for s in samples for name in s.loop_lag_ms})
    if runners:
        charts.append(("Load generator: event-loop lag per runner", {
            "type": "line", "unit": "ms", "x": x, "bucket": 1,
            "series": [{"name": name, "values": [s.loop_lag_ms.get(name) for s in samples]}
                       for name in runners]}))
    return charts


def harness_html(summary: SummaryDocument) -> str:
    """One line on the generator's health; a warning banner when it was saturated."""
    harness = summary.harness
    if harness is None:
        return ""
    worst = f"worst of {len(harness.shards)} shards: " if harness.shards else ""
    facts = (f"{worst}CPU mean {_number(harness.cpu_mean)}, max {_number(harness.cpu_max)} of one core; "
             f"RSS max {_number(harness.rss_max_mb)} MiB; connections max "
             f"{_number(harness.connections_max)}")
    if harness.saturated:
        return ('<div class="banner fail">The load generator was saturated: its numbers may measure the client, '
                f'not the target ({escape("; ".join(harness.reasons))}). {escape(facts)}</div>')
    return f'<p class="muted">Load generator: {escape(facts)}</p>'
