"""The load generator's own health: is it the bottleneck?

``HarnessMonitor`` samples this process once a second while the entries run: CPU (user + system) as a
share of one core, resident memory, open TCP connections and the event-loop lag of each async runner (how
late a callback scheduled on its loop runs). At the end ``report`` adds each entry's p99 send lateness
(from the recorder) and says whether the generator was saturated: CPU over ``CPU_SATURATED`` of a core on
average over any ``_WINDOW`` samples, or a p99 lateness or loop lag over ``LATENESS_P99_BOUND_MS`` (or
``PERF_HARNESS_LATENESS_MS``). Then the
numbers measure the client, not the target: the run warns, and entries with ``strictHarness`` fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import psutil
from pydantic import BaseModel, Field

from perf_tests.scheduler.clock import SYSTEM_TIME, Clock

if TYPE_CHECKING:
    from perf_tests.recorder.recorder import Recorder, ScenarioRecord

__all__ = ["CPU_SATURATED", "LATENESS_P99_BOUND_MS", "HarnessFinding", "HarnessMonitor", "HarnessReport",
           "HarnessSample", "LoopOwner", "merge_reports"]

logger = logging.getLogger(__name__)

CPU_SATURATED = 0.9
"""Share of one core above which the generator counts as saturated (Python runs on one core at a time)."""

LATENESS_P99_BOUND_MS = 100.0
"""p99 send lateness (or event-loop lag) above which the generator was late to send, not the target slow
(the default of ``PERF_HARNESS_LATENESS_MS``)."""

_WINDOW = 3  # samples the CPU share is averaged over before it counts as saturated


class LoopOwner(Protocol):
    """What the monitor needs of a runner (``BaseRunner`` is one): its name and the loop it runs on, if any."""

    @property
    def name(self) -> str:
        """The scenario entry's name."""
        ...

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop | None:
        """The running event loop to probe for lag; None when there is none."""
        ...


class HarnessSample(BaseModel):
    """One second of the generator process."""

    t: float = Field(description="epoch seconds")
    cpu: float = Field(description="CPU (user+system) as a share of one core since the previous sample")
    rss_mb: float
    connections: int
    loop_lag_ms: dict[str, float] = Field(default_factory=dict, description="runner name -> lag of its loop")


class HarnessFinding(BaseModel):
    """One reason the generator counts as saturated, and what it concerns: one entry's own figure (its loop's
    lag, its send lateness), or the whole process over a time span (CPU), which concerns the entries that ran
    then."""

    reason: str
    entry: str | None = Field(default=None, description="the entry whose own figure this is; None: the process's")
    start: float | None = Field(default=None, description="epoch seconds: when the process's finding began")
    end: float | None = Field(default=None, description="epoch seconds: when it ended")

    def concerns(self, entry: str, start: float | None, end: float | None) -> bool:
        """Whether it bears on ``entry``, which ran from ``start`` to ``end`` (epoch s; None: not known)."""
        if self.entry is not None:
            return self.entry == entry
        if self.start is None or self.end is None or start is None or end is None:
            return True  # a span not known: it may have been while the entry ran
        return self.start <= end and start <= self.end


class HarnessReport(BaseModel):
    """The generator's health over the run (``summary.json`` ``harness``)."""

    samples: list[HarnessSample] = Field(default_factory=list)
    cpu_mean: float | None = None
    cpu_max: float | None = None
    rss_max_mb: float | None = None
    connections_max: int | None = None
    loop_lag_p99_ms: dict[str, float] = Field(default_factory=dict)
    lateness_p99_ms: dict[str, float] = Field(default_factory=dict)
    saturated: bool = False
    reasons: list[str] = Field(default_factory=list)
    findings: list[HarnessFinding] = Field(default_factory=list,
                                           description="the reasons, each with the entry or time span it concerns")
    shards: list[str] | None = Field(default=None, description="a merged run's: the shards it is the worst of")

    def without_samples(self) -> HarnessReport:
        """The aggregates only (a scaled-out run's per-shard part; each shard's own summary has the samples)."""
        return self.model_copy(update={"samples": []})

    def add(self, finding: HarnessFinding) -> None:
        """Note one reason it was saturated."""
        self.findings.append(finding)
        self.reasons.append(finding.reason)
        self.saturated = True

    def saturation(self, entry: str, record: ScenarioRecord | None) -> str:
        """What the entry's notes and ``strictHarness`` check say: the reasons that bear on it (see
        ``reasons_for``; its window from its record), joined; empty when none does."""
        start, end = (record.started, record.finished) if record is not None else (None, None)
        return "; ".join(self.reasons_for(entry, start, end)) if self.saturated else ""

    def reasons_for(self, entry: str, start: float | None = None, end: float | None = None) -> list[str]:
        """The reasons that bear on ``entry`` (which ran from ``start`` to ``end``, epoch s): its own figures and
        the process's while it ran, not another entry's. A report read from before findings existed: all."""
        if not self.findings:
            return list(self.reasons)
        return [finding.reason for finding in self.findings if finding.concerns(entry, start, end)]


def _note_lag(box: list[float], sent: float) -> None:
    """On the probed loop: how late (ms) this callback runs after it was scheduled at ``sent``."""
    box.append((time.monotonic() - sent) * 1000)


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class HarnessMonitor:
    """A daemon thread sampling the process every ``interval`` seconds between ``start`` and ``stop``."""

    def __init__(self, interval: float = 1.0, lateness_bound_ms: float = LATENESS_P99_BOUND_MS,
                 clock: Clock | None = None) -> None:
        self.interval = interval
        self.clock = clock if clock is not None else Clock(SYSTEM_TIME)  # the run's: samples line up with events
        self.lateness_bound_ms = lateness_bound_ms
        self.samples: list[HarnessSample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._runners: list[LoopOwner] = []
        self._process = psutil.Process()

    def start(self, runners: Sequence[LoopOwner]) -> None:
        """Begin sampling; ``runners``' event loops (``event_loop``, e.g. an ``AsyncRunner``'s) are probed for lag."""
        self._runners = list(runners)
        self._thread = threading.Thread(target=self._run, name="harness-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (waits at most one interval)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 5)

    def _run(self) -> None:
        clock = self.clock
        last_cpu = self._cpu_seconds()
        last_wall = clock.monotonic()
        pending: dict[str, list[float]] = {}
        while not clock.wait(self._stop, self.interval):
            try:
                now = clock.monotonic()  # one reading: the share's span and the sample's wall time
                cpu = self._cpu_seconds()
                share = (cpu - last_cpu) / max(now - last_wall, 1e-6)
                last_cpu, last_wall = cpu, now
                lags = {name: values[0] for name, values in pending.items() if values}
                pending = self._probe_loops()
                self.samples.append(HarnessSample(
                    t=clock.wall_of(now), cpu=round(share, 4), rss_mb=round(self._process.memory_info().rss / 2**20, 2),
                    connections=self._connections(), loop_lag_ms=lags))
            except (psutil.Error, OSError):  # a sample lost is no reason to stop sampling
                logger.debug("harness sample failed", exc_info=True)

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def _connections(self) -> int:
        with contextlib.suppress(psutil.Error, OSError):
            return sum(1 for c in self._process.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED)
        return 0

    def _probe_loops(self) -> dict[str, list[float]]:
        """Schedule one callback on each running loop; it writes its lag (ms) into the list returned."""
        out: dict[str, list[float]] = {}
        for runner in self._runners:
            loop = runner.event_loop
            if loop is None or loop.is_closed() or not loop.is_running():
                continue
            box: list[float] = []
            # The real time, not the run clock: the lag of a real loop, which a fake clock would not see.
            sent = time.monotonic()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_note_lag, box, sent)
                out[runner.name] = box
        return out

    def report(self, recorder: Recorder | None = None) -> HarnessReport:
        """The samples, their aggregates, each entry's p99 send lateness, and whether it was saturated."""
        samples = list(self.samples)
        report = HarnessReport(samples=samples)
        if samples:
            cpus = [s.cpu for s in samples]
            report.cpu_mean = round(sum(cpus) / len(cpus), 4)
            report.cpu_max = max(cpus)
            report.rss_max_mb = max(s.rss_mb for s in samples)
            report.connections_max = max(s.connections for s in samples)
            windowed = [sum(cpus[i:i + _WINDOW]) / _WINDOW for i in range(max(1, len(cpus) - _WINDOW + 1))]
            over = [i for i, share in enumerate(windowed) if share > CPU_SATURATED]
            if over:
                # Sample i covers the second before its time: the span runs from the first saturated window's
                # first second to the last one's end.
                first, last = over[0], min(over[-1] + _WINDOW, len(samples)) - 1
                report.add(HarnessFinding(
                    reason=f"CPU of the load generator reached {max(windowed) * 100:.0f}% of one core "
                           f"over {_WINDOW}s (above {CPU_SATURATED * 100:.0f}%)",
                    start=samples[first - 1].t if first else samples[first].t - 1.0, end=samples[last].t))
        lags: dict[str, list[float]] = {}
        for sample in samples:
            for name, lag in sample.loop_lag_ms.items():
                lags.setdefault(name, []).append(lag)
        report.loop_lag_p99_ms = {name: round(_p99(values), 3) for name, values in lags.items()}
        bound = self.lateness_bound_ms
        for name, lag in report.loop_lag_p99_ms.items():
            if lag > bound:
                report.add(HarnessFinding(reason=f"{name}: event-loop lag p99 {lag:.0f}ms (above {bound:g}ms)",
                                          entry=name))
        if recorder is not None:
            for name, record in recorder.scenarios.items():
                worst = max((stats.values["lateness"].get_value_at_percentile(99) / 1000.0
                             for stats in record.operations.values() if "lateness" in stats.values
                             and stats.values["lateness"].get_total_count()), default=None)
                if worst is not None:
                    report.lateness_p99_ms[name] = round(worst, 3)
                    if worst > bound:
                        report.add(HarnessFinding(reason=f"{name}: send lateness p99 {worst:.3g}ms "
                                                  f"(above {bound:g}ms)", entry=name))
        if report.saturated:
            logger.warning("the load generator was saturated, so its numbers may measure the client, not the "
                           "target: %s", "; ".join(report.reasons))
        return report


def _worst(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def merge_reports(reports: dict[str, HarnessReport]) -> HarnessReport | None:
    """A scaled-out run's generator health: each shard sampled its own process, so the merged report is the
    worst shard's (max CPU, RSS, connections, loop lag and send lateness per entry), saturated when any shard
    was, each reason naming its shard (``label`` -> report, e.g. ``0/2``). No samples (each shard has its own)."""
    if not reports:
        return None
    parts = list(reports.values())
    merged = HarnessReport(
        cpu_mean=_worst([part.cpu_mean for part in parts]),
        cpu_max=_worst([part.cpu_max for part in parts]),
        rss_max_mb=_worst([part.rss_max_mb for part in parts]),
        connections_max=max((part.connections_max for part in parts if part.connections_max is not None),
                            default=None),
        reasons=[f"shard {label}: {reason}" for label, part in reports.items() for reason in part.reasons],
        findings=[finding.model_copy(update={"reason": f"shard {label}: {finding.reason}"})
                  for label, part in reports.items() for finding in part.findings],
        shards=list(reports),
    )
    for part in parts:
        for key, target in (("loop_lag_p99_ms", merged.loop_lag_p99_ms), ("lateness_p99_ms", merged.lateness_p99_ms)):
            for name, value in getattr(part, key).items():
                target[name] = max(value, target.get(name, value))
    merged.saturated = any(part.saturated for part in parts)
    return merged
