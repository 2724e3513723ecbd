"""One shard of a scaled-out run: the scenario split (``plan_shard``), a fixed shared start time, the shared
target, and at the end its ``shard.json`` (the recorder's state, its health, its entries' Prometheus queries
and windows) beside its usual results. A shard checks the Prometheus queries at its start, as any run does,
but does not query over its windows: the merge queries once over the merged ones."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perf_tests.logger.redaction import redact_data
from perf_tests.models.scenario_file import Scenario, entries_json
from perf_tests.observability.client import PrometheusClient
from perf_tests.observability.models import EntryObservation, Window
from perf_tests.recorder.recorder import Recorder
from perf_tests.scaleout.plan import ShardPlan, plan_shard
from perf_tests.scaleout.result import PrometheusEndpoint, ShardResult, write_shard_result
from perf_tests.scaleout.shard import ShardSpec
from perf_tests.scaleout.snapshot import snapshot
from perf_tests.scaleout.upload import upload_shard
from perf_tests.scheduler.clock import Clock
from perf_tests.scheduler.scheduler import RunnerExit
from perf_tests.scheduler.stop import StopToken
from perf_tests.session.session import CompletedRun, PerfSession, planned_entries
from perf_tests.storage.upload import UploadOutcome
from perf_tests.targets.kfp_target import EMBEDDED_KIND, KfpTarget, check_kfp_health

__all__ = ["FixedStartClock", "ShardSession"]

logger = logging.getLogger("perf_tests")


class FixedStartClock(Clock):
    """A clock whose t0 is a given wall-clock time (the same on every shard), not "when prepared".

    With a ``barrier`` folder (shards on one file system: pytest-xdist workers, pods on a shared volume)
    each shard writes the later of its start time and its ready time there and waits (at most
    ``barrier_timeout``, or until ``abort``) for every other's; t0 is the latest of them plus
    ``BARRIER_MARGIN``, the same instant on every shard, so a slow worker start cannot cut the load short.
    """

    BARRIER_MARGIN = 0.5

    def __init__(self, start_at: float, barrier: Path | None = None, index: int = 0, count: int = 1,
                 abort: StopToken | None = None, barrier_timeout: float = 300.0) -> None:
        super().__init__()
        self.start_at = start_at
        self.barrier = barrier
        self.index = index
        self.count = count
        self.abort = abort or StopToken()
        self.barrier_timeout = barrier_timeout
        self.lateness = 0.0

    def _meet(self) -> None:
        """Wait for every shard at the barrier; move ``start_at`` past the last one's ready time."""
        assert self.barrier is not None
        self.barrier.mkdir(parents=True, exist_ok=True)
        mine = self.barrier / f"ready-{self.index}"
        # The later of this shard's start time and now: every shard takes the latest of all of them, so shards
        # given a relative start (+30 in each pod) still agree on one instant.
        mine.with_suffix(".tmp").write_text(repr(max(self.start_at, self.wall_now())), encoding="utf-8")
        mine.with_suffix(".tmp").replace(mine)
        deadline = self.monotonic() + self.barrier_timeout
        while not self.abort.is_set():
            times = []
            for index in range(self.count):
                try:
                    times.append(float((self.barrier / f"ready-{index}").read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    break
            if len(times) == self.count:
                self.start_at = max(times) + self.BARRIER_MARGIN
                return
            if self.monotonic() > deadline:
                logger.warning("not every shard was ready within %.0fs; starting without them", self.barrier_timeout)
                return
            self.abort.wait(0.05, clock=self)

    def start(self) -> None:
        if self.barrier is not None and self.count > 1:
            self._meet()
        now_monotonic = self.monotonic()
        now_wall = self.wall_of(now_monotonic)  # one reading: t0_wall is then exactly start_at
        self.t0_monotonic = now_monotonic + (self.start_at - now_wall)
        self.lateness = max(0.0, now_wall - self.start_at)
        if self.lateness > 0.5:
            logger.warning("this shard finished preparing %.1fs after the shared start time: its entries start "
                           "late (give a later --start-at, or a longer lead)", self.lateness)


class ShardSession(PerfSession):
    """A ``PerfSession`` that runs shard ``spec.index`` of ``spec.count`` of the scenario."""

    def __init__(self, spec: ShardSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard = spec
        self.whole_run_id = spec.run_id or self.run_id
        self.run_id = f"{self.whole_run_id}-shard{spec.index}"
        # A shard is a part of a run: never the "latest" of its scenario file, and uploaded only for a controller
        # that fetches it (the pods of run --pods), to <prefix>/<run_id>/shard-<i>/.
        if not spec.upload:
            self.uploader = None
        elif self.uploader is None:
            logger.warning("--shard-upload without PERF_RESULTS_URL: this shard's results stay in %s",
                           self.results_dir)
        self._plan: ShardPlan | None = None
        self._clock: FixedStartClock | None = None
        self.recorder: Recorder | None = None
        self.result: ShardResult | None = None

    @property
    def whole_scenario(self) -> Scenario:
        """The scenario file as written (every entry unsplit)."""
        return super().scenario

    @property
    def plan(self) -> ShardPlan:
        if self._plan is None:
            assert self.shard is not None
            self._plan = plan_shard(self.whole_scenario, self.shard.index, self.shard.count, self.shard.seed)
        return self._plan

    @property
    def scenario(self) -> Scenario:
        """This shard's part of the scenario."""
        return self.plan.scenario

    def new_clock(self) -> Clock:
        assert self.shard is not None
        spec = self.shard
        barrier = Path(spec.barrier) if spec.barrier else None
        self._clock = FixedStartClock(spec.start_at if spec.start_at is not None else time.time(), barrier,
                                      spec.index, spec.count, self.abort)
        return self._clock

    def resolve_kfp_target(self) -> KfpTarget:
        """The simulator the controller started for every shard, or the configured target."""
        assert self.shard is not None
        if self.shard.simulator_url is None:
            return super().resolve_kfp_target()
        target = KfpTarget(url=self.shard.simulator_url, kind=EMBEDDED_KIND, connection=self.settings.connection,
                           auth=self.settings.auth)
        check_kfp_health(target)
        target.version = "embedded"
        return target

    def upload(self, outcome: CompletedRun, scenario: Scenario, stop: Callable[[], bool]) -> UploadOutcome | None:
        """This shard's results directory to ``<prefix>/<run_id>/shard-<i>/`` (see ``scaleout.upload``)."""
        if self.uploader is None:
            return None
        assert self.shard is not None
        name = self.whole_scenario.path.name if self.whole_scenario.path else self.scenario_name
        return upload_shard(self.uploader, self.results_dir, self.whole_run_id, self.shard.index, name, stop)

    def _check_prometheus(self, scenario: Scenario) -> PrometheusClient | None:
        """Every query checked at the start, as in any run; the shard's own summary then says who queries."""
        client = super()._check_prometheus(scenario)
        self.observations = {name: EntryObservation(
            entry=name, status="deferred", message="a shard does not query Prometheus: the merge queries it once "
            "over the merged entry's window and judges prom: thresholds there (the merged summary.json)")
            for name in self.entry_queries(scenario)}
        return client

    def _observe(self, client: PrometheusClient, scenario: Scenario, runners: list[Any],
                 windows: dict[str, list[Window]]) -> None:
        """Nothing: the merge queries Prometheus over the merged windows (``shard.json`` carries them)."""

    def _prometheus_endpoint(self) -> PrometheusEndpoint | None:
        settings = self.settings.prometheus
        if not settings.enabled:
            return None
        return PrometheusEndpoint(url=settings.prometheus_url, verify_ssl=settings.prometheus_verify_ssl,
                                  ca_bundle=str(settings.prometheus_ca_bundle) if settings.prometheus_ca_bundle
                                  else None, timeout=settings.prometheus_timeout)

    def _finish(self, scenario: Scenario, recorder: Recorder, results: list[RunnerExit],
                targets: dict[str, Any], started: float, finished: float) -> CompletedRun:
        outcome = super()._finish(scenario, recorder, results, targets, started, finished)
        assert self.shard is not None
        whole = self.whole_scenario
        self.result = ShardResult(
            shard=self.shard, run_id=self.whole_run_id, shard_run_id=self.run_id, results_dir=str(self.results_dir),
            started=started, finished=finished,
            t0=self._clock.t0_wall if self._clock is not None else None,
            start_lateness_s=self._clock.lateness if self._clock is not None else 0.0,
            interrupted=outcome.interrupted,
            scenario_file=str(whole.path) if whole.path else None, scenario=redact_data(whole.raw),
            entries=planned_entries(whole),
            llm_entries={entry.name: redact_data(data) for entry, data in zip(whole.entries,
                                                                             entries_json(whole.entries), strict=True)
                         if entry.mode == "LLM_LOAD"},
            plan_notes={share.name: share.note for share in self.plan.shares if share.note},
            ran=[entry.name for entry in scenario.entries],
            targets=redact_data(targets),
            snapshot=snapshot(recorder),
            queries=self.entry_queries(whole),
            windows={name: spans[1:] for name, spans in self.windows.items() if len(spans) > 1},
            prometheus=self._prometheus_endpoint(),
            harness=self.harness,
        )
        try:
            write_shard_result(self.result, self.results_dir)
        except OSError as exc:
            logger.error("could not write shard.json in %s (%s)", self.results_dir, exc.strerror or exc)
        return outcome


def shard_results_dir(root: Path, index: int) -> Path:
    """Where shard ``index`` of a run writes its results inside the merged results directory."""
    from perf_tests.scaleout.merge import shard_dir_name

    return root / shard_dir_name(index)
