"""``report.html`` in a real headless browser (Debian's chromium, driven over the DevTools protocol with
aiohttp): it loads without network, draws every chart inside its frame, and logs no console errors.

Skipped only when chromium is not installed (``apt-get install chromium``). Screenshots are kept in the
test's tmp directory (``report.png``) for a look.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from perf_tests.recorder import EventHook, EventsFileWriter, MetricsRecord, OperationEvent, Recorder, ScenarioMark
from perf_tests.recorder.per_second import PerSecondAggregator
from perf_tests.reports import EntryInput, RunInput, build_summary, write_reports, write_summary
from perf_tests.results import Target

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Chromium:
    """A headless chromium on a DevTools port picked by the browser itself, and one page of it."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.process: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._load = asyncio.Event()

    async def __aenter__(self) -> Chromium:
        assert CHROMIUM is not None
        self.process = await asyncio.create_subprocess_exec(
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
            f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        browser_ws = await asyncio.wait_for(self._devtools_url(), timeout=60)
        self._tasks.append(asyncio.create_task(self._drain_stderr()))
        port = browser_ws.split("//", 1)[1].split("/", 1)[0]
        self.http = aiohttp.ClientSession()
        async with self.http.get(f"http://{port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = await self.http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        self._tasks.append(asyncio.create_task(self._receive()))
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable")
        return self

    async def _devtools_url(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        while True:
            line = await self.process.stderr.readline()
            if not line:
                raise RuntimeError("chromium exited before opening DevTools:\n" + "".join(self.stderr))
            text = line.decode(errors="replace")
            self.stderr.append(text)
            if "DevTools listening on " in text:
                return text.split("DevTools listening on ", 1)[1].strip()

    async def _drain_stderr(self) -> None:
        # Keep reading so a chatty browser never blocks on a full pipe.
        assert self.process is not None and self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr.append(line.decode(errors="replace"))

    async def _receive(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                self.events.append(data)
                if data.get("method") == "Page.loadEventFired":
                    self._load.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self.ws.send_json({"id": self._next_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, timeout=60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def open(self, url: str, width: int = 1400, height: int = 1000) -> None:
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                        mobile=False)
        self._load.clear()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self._load.wait(), timeout=60)

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def screenshot(self, path: Path) -> bytes:
        metrics = await self.send("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                               clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = base64.b64decode(shot["data"])
        path.write_bytes(data)
        return data

    def console_errors(self) -> list[str]:
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                errors.append(str(params["entry"].get("text")))
        return errors

    def requests_outside_the_file(self) -> list[str]:
        return [str(e["params"].get("request", {}).get("url")) for e in self.events
                if e.get("method") == "Network.requestWillBeSent"
                and not str(e["params"].get("request", {}).get("url", "")).startswith(("file:", "data:"))]

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.http is not None:
            await self.http.close()
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# Every chart's drawn elements must lie inside its SVG (a value above the top tick would be cut off).
_CHART_CHECK = """
(() => {
  const charts = [...document.querySelectorAll('[data-chart]')];
  const problems = [];
  let drawn = 0;
  for (const chart of charts) {
    const svg = chart.querySelector('svg');
    if (!svg) { problems.push(chart.dataset.chart + ': no svg'); continue; }
    const height = svg.height.baseVal.value, width = svg.width.baseVal.value;
    const marks = [...svg.querySelectorAll('path.series, rect.bar, circle.point')];
    if (!marks.length) { problems.push(chart.dataset.chart + ': nothing drawn'); continue; }
    drawn += 1;
    for (const mark of marks) {
      const box = mark.getBBox();
      if (box.y < -1 || box.y + box.height > height + 1 || box.x < -1 || box.x + box.width > width + 1) {
        problems.push(chart.dataset.chart + ': ' + mark.tagName + ' outside the chart');
        break;
      }
    }
  }
  return {rendered: document.body.dataset.chartsRendered, charts: charts.length, drawn, problems,
          titles: [...document.querySelectorAll('.chart-box h4')].map(h => h.textContent)};
})()
"""


async def _render(report: Path, tmp_path: Path) -> tuple[dict[str, Any], list[str], bytes]:
    async with Chromium(tmp_path / "profile") as browser:
        await browser.send("Network.enable")
        await browser.open(report.as_uri())
        checked = await browser.evaluate(_CHART_CHECK)
        # Hovering a line chart shows its tooltip: the page's own JS must work, not just draw.
        box = await browser.evaluate(
            "(() => { const overlay = document.querySelector('svg rect[fill=transparent]');"
            " overlay.scrollIntoView({block: 'center'}); const r = overlay.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        await browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
        tooltip = await browser.evaluate(
            "getComputedStyle(document.querySelector('svg rect[fill=transparent]').closest('[data-chart]')"
            ".querySelector('.tooltip')).display")
        checked["tooltip"] = tooltip
        png = await browser.screenshot(tmp_path / "report.png")
        errors = browser.console_errors() + [f"network: {url}" for url in browser.requests_outside_the_file()]
    return checked, errors, png


def _assert_rendered(checked: dict[str, Any], errors: list[str], png: bytes) -> None:
    assert errors == []
    assert checked["problems"] == []
    assert checked["charts"] > 0 and checked["drawn"] == checked["charts"]
    assert checked["rendered"] == str(checked["charts"])
    assert checked["tooltip"] == "block"
    assert png.startswith(PNG_SIGNATURE) and len(png) > 50_000


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's smoke scenario run with ``python -m perf_tests run`` on the embedded simulator."""
    results = tmp_path_factory.mktemp("smoke") / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "PERF_", "SCENARIO_"))}
    env["EMBEDDED_SIMULATOR"] = json.dumps({"task_seconds": 0.2, "pending_seconds": 0.05})
    proc = subprocess.run(
        [sys.executable, "-m", "perf_tests", "run", "smoke.json", "--results-dir", str(results)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode in (0, 1) and (results / "summary.json").is_file(), proc.stdout + proc.stderr
    return results


@needs_chromium
@pytest.mark.slow
def test_the_smoke_run_report_renders_its_charts_without_errors(smoke_results, tmp_path):
    report = smoke_results / "report.html"
    assert report.is_file() and (smoke_results / "summary.csv").is_file()
    checked, errors, png = asyncio.run(_render(report, tmp_path))
    _assert_rendered(checked, errors, png)
    titles = checked["titles"]
    assert any(t.startswith("create_run duration") for t in titles)
    assert any(t.startswith("Throughput") for t in titles)
    assert "Final states (run_duration)" in titles


def _synthetic_results(results: Path) -> Path:
    """A run with every kind of chart, recorded through the real recorder, stream recorder and events file."""
    t0 = 1_700_000_000.0
    hook, recorder = EventHook(), Recorder()
    writer = EventsFileWriter(results / "events.jsonl")
    hook.add_listener(recorder)
    hook.add_listener(writer)
    names = {"PIPELINE_RUN#0": "PIPELINE_RUN", "RANDOM_GETS#1": "RANDOM_GETS", "LLM_LOAD#2": "LLM_LOAD"}
    for index, (name, mode) in enumerate(names.items()):
        hook.fire(ScenarioMark(name, mode, "started", t0 + index))
    for i in range(60):
        start = t0 + i * 0.5
        hook.fire(OperationEvent("PIPELINE_RUN#0", "PIPELINE_RUN", "create_run", start, 0.02 + (i % 7) / 100, True))
        if i % 13 == 0:
            hook.fire(OperationEvent("PIPELINE_RUN#0", "PIPELINE_RUN", "create_run", start, 0.01, False, "http_503",
                                     "Service Unavailable"))
        state = "FAILED" if i % 9 == 0 else "SUCCEEDED"
        hook.fire(OperationEvent("PIPELINE_RUN#0", "PIPELINE_RUN", "run_duration", start, 3.0 + i % 4,
                                 state == "SUCCEEDED", None if state == "SUCCEEDED" else "run_failed", None,
                                 {"state": state}))
    stream = PerSecondAggregator(hook, "RANDOM_GETS#1", "RANDOM_GETS")
    for second in range(1, 29):
        for j in range(50):
            at = t0 + second + j / 50
            stream.record("list_runs", at, 0.002 + second * 0.0005 + (j % 5) / 1000, True,
                          values={"lateness": 0.001 * (j % 4)}, attrs={"total_size": 100 * second + j})
            stream.record("get_run", at, 0.001 + (j % 3) / 1000, j % 25 != 0, None if j % 25 else "http_404")
        if second % 7 == 0:
            stream.count("list_runs", "dropped", t0 + second, 3)
        stream.flush(before=t0 + second + 1)
    stream.flush()
    for metric, p50 in (("ttft", 120.0), ("itl", 15.0), ("request_latency", 900.0)):
        hook.fire(MetricsRecord("LLM_LOAD#2", "LLM_LOAD", metric, t0 + 29,
                                {"count": 100, "p50_ms": p50, "p90_ms": p50 * 1.5, "p95_ms": p50 * 1.8,
                                 "p99_ms": p50 * 2.5, "mean_ms": p50 * 1.1}, "guidellm"))
    for index, (name, mode) in enumerate(names.items()):
        hook.fire(ScenarioMark(name, mode, "finished", t0 + 30 - index, "passed"))
    writer.close()
    thresholds = {"PIPELINE_RUN#0": ["p95(create_run) < 60ms", "success_rate >= 0.99"],
                  "RANDOM_GETS#1": ["p99(list_runs) < 20ms", "dropped == 0"], "LLM_LOAD#2": ["p99(ttft) < 1s"]}
    run = RunInput("synthetic", [], None, {"kfp": Target(kind="kfp-api", url="http://kfp.example", version="2.5.0",
                                                         description="KFP at http://kfp.example")},
                   t0, t0 + 30)
    summary = build_summary(run, recorder, [EntryInput(name, mode, thresholds=thresholds[name])
                                            for name, mode in names.items()])
    write_summary(summary, results)
    write_reports(summary, results)
    return results / "report.html"


@needs_chromium
def test_every_chart_kind_renders_without_errors(tmp_path):
    results = tmp_path / "results"
    report = _synthetic_results(results)
    checked, errors, png = asyncio.run(_render(report, tmp_path))
    _assert_rendered(checked, errors, png)
    titles = set(checked["titles"])
    for expected in ("list_runs duration against table size", "Final states (run_duration)",
                     "LLM_LOAD metrics from guidellm"):
        assert expected in titles
    assert any(t.startswith("Errors and dropped arrivals") for t in titles)
    assert any(t.startswith("Send lateness p99") for t in titles)
