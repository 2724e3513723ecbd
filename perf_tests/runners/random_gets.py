"""RANDOM_GETS: precise read load on the KFP API, open loop, per endpoint.

Weighted random GETs of the KFP v2beta1 REST API (runs, experiments, pipelines, pipeline versions,
healthz) at a fixed ``rate``, a Poisson rate, a ``stages`` profile (stair-steps, ramps) or with a fixed
``concurrency`` (closed loop). Arrivals are on an absolute schedule: when the API cannot keep up, the
requests beyond ``maxConcurrency`` in flight (or more than ``maxLateness`` late) are counted as dropped
instead of silently lowering the rate. Each endpoint is recorded as its own operation with service
time, send lateness and latency from the due time; list calls also record the table's ``total_size``.

Example entry::

    {"mode": "RANDOM_GETS", "startTime": 0, "runTime": "10m", "rate": 200,
     "endpoints": {"list_runs": 5, "get_run": 3, "healthz": 1}, "pageSize": 20}

Against the embedded simulator (never a cluster), ``prepare`` first makes the server hold a few
pipelines, experiments and runs (``simulatorData``, default 3 / 3 / 20; ``false`` turns it off), so the
reads that need an id have some: a fresh simulator holds none. When a weighted endpoint still had to be
sent as its list call (no id known yet, or never), the entry's notes say so.

An entry written for the original framework (``mode``, ``startTime``, ``runTime`` only; its RANDOM_GETS
was never implemented there) runs unchanged: without ``rate``, ``stages`` or ``concurrency`` the load
is ``DEFAULT_RATE`` (10) requests per second, constant, in the default UI-like endpoint mix, a light
load that any KFP API serves and that still gives hundreds of samples per endpoint in a few minutes.
"""

from __future__ import annotations

import random
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from perf_tests.load import (
    DEFAULT_ENDPOINT_MIX,
    KFP_ENDPOINTS,
    ArrivalModel,
    ConcurrentArrivals,
    ConstantArrivals,
    KfpGetsWorkload,
    LoadEngine,
    LoadTotals,
    PoissonArrivals,
    Stage,
    StagesArrivals,
    kfp_session,
)
from perf_tests.models.durations import Seconds
from perf_tests.models.fields import MAX_RATE, MAX_SEED, MAX_WEIGHT, OptionsModel
from perf_tests.models.scenario import ScenarioEntry
from perf_tests.recorder.per_second import PerSecondAggregator
from perf_tests.runners.base_runner import AsyncRunner
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import register
from perf_tests.scaleout.arrivals import shard_arrivals
from perf_tests.server.seed import SeedError, SeedPlan, seed_simulator
from perf_tests.targets.kfp_target import EMBEDDED_KIND

__all__ = ["DEFAULT_RATE", "RandomGetsOptions", "RandomGetsRunner", "RateStage"]

DEFAULT_RATE = 10.0
"""Requests per second of an entry that gives neither ``rate`` nor ``stages`` (an original-format entry)."""


class RateStage(OptionsModel):
    """One step of a ``stages`` profile: ``rate`` per second for ``duration``, optionally ramping.

    ``rampTo`` ramps linearly from ``rate`` to that rate over the step; ``ramp: true`` ramps to the next
    step's rate.
    """

    rate: float = Field(ge=0, le=MAX_RATE, description="Requests per second at the start of the step.")
    duration: Seconds = Field(description="How long the step lasts: seconds or a string like '2m'.")
    ramp: bool = Field(default=False, description="Ramp linearly to the next step's rate.")
    ramp_to: float | None = Field(default=None, ge=0, le=MAX_RATE, description="Ramp linearly to this rate.")

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("a step's duration must be greater than 0")
        return value

    @model_validator(mode="after")
    def _one_ramp(self) -> RateStage:
        if self.ramp and self.ramp_to is not None:
            raise ValueError("give either 'ramp': true (to the next step's rate) or 'rampTo', not both")
        return self


class RandomGetsOptions(ScenarioEntry):
    """Options of a RANDOM_GETS entry (camelCase in scenario files)."""

    operations: ClassVar[tuple[str, ...]] = KFP_ENDPOINTS

    mode: Literal["RANDOM_GETS"]
    rate: float | None = Field(
        default=None, gt=0, le=MAX_RATE,
        description=f"Requests per second (constant or poisson); or give stages. Default {DEFAULT_RATE:g} "
        "when neither rate nor stages is given.",
    )
    stages: list[RateStage] | None = Field(
        default=None, description="Rate steps [{rate, duration, ramp?/rampTo?}] instead of one rate."
    )
    arrival: Literal["constant", "poisson", "concurrent"] = Field(
        default="constant",
        description="constant: evenly spaced; poisson: random gaps; concurrent: closed loop of N clients.",
    )
    concurrency: int | None = Field(
        default=None, ge=1, le=100_000, description="Requests in flight for arrival 'concurrent'."
    )
    max_concurrency: int = Field(
        default=1000, ge=1, le=100_000,
        description="Cap on requests in flight (and connections); arrivals beyond it are dropped.",
    )
    max_lateness: Seconds = Field(
        default=1.0, description="Arrivals the sender could not start within this time are dropped."
    )
    endpoints: dict[str, Annotated[float, Field(ge=0, le=MAX_WEIGHT)]] = Field(
        default_factory=lambda: dict(DEFAULT_ENDPOINT_MIX),
        description=f"Endpoint weights; endpoints: {', '.join(KFP_ENDPOINTS)}.",
    )
    page_size: int = Field(default=10, ge=1, le=1000, description="page_size of list calls.")
    sort_by: str | None = Field(default="created_at desc", description="sort_by of list calls ('' for none).")
    namespace: str | None = Field(
        default=None, description="namespace of list calls; default NAMESPACE when MULTI_USER is on."
    )
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="Seed for poisson gaps, endpoint and id choices."
    )
    id_refresh: Seconds = Field(default=5.0, description="How often the id pools are refreshed from lists.")
    simulator_data: SeedPlan | bool = Field(
        default=True,
        description="Against the embedded simulator only: make it hold at least this many pipelines, "
        "experiments and runs before the start ({pipelines, experiments, runs}; true: 3, 3, 20; false: off).",
    )

    @field_validator("endpoints")
    @classmethod
    def _known_endpoints(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(KFP_ENDPOINTS))
        if unknown:
            raise ValueError(
                f"unknown endpoint(s) {', '.join(unknown)}; valid endpoints: {', '.join(KFP_ENDPOINTS)}"
            )
        if not any(weight > 0 for weight in value.values()):
            raise ValueError("at least one endpoint needs a weight > 0")
        return value

    @field_validator("max_lateness", "id_refresh")
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @model_validator(mode="after")
    def _load_shape(self) -> RandomGetsOptions:
        if self.arrival == "concurrent":
            if self.rate is not None or self.stages is not None:
                raise ValueError("arrival 'concurrent' is a closed loop: give 'concurrency', not rate or stages")
            if self.concurrency is None:
                raise ValueError("arrival 'concurrent' needs 'concurrency' (requests in flight)")
            if self.concurrency > self.max_concurrency:
                raise ValueError("concurrency cannot be above maxConcurrency")
            return self
        if self.concurrency is not None:
            raise ValueError("'concurrency' is for arrival 'concurrent'; use maxConcurrency to cap an open loop")
        if self.rate is not None and self.stages is not None:
            raise ValueError("give exactly one of 'rate' (requests per second) or 'stages'")
        if self.rate is None and self.stages is None:
            self.rate = DEFAULT_RATE  # an original-format entry: mode, startTime and runTime only
        if self.stages is not None:
            if not self.stages:
                raise ValueError("'stages' needs at least one step")
            if self.stages[-1].ramp:
                raise ValueError("the last step cannot 'ramp' (there is no next rate); use 'rampTo'")
            if not any(step.rate > 0 or (step.ramp_to or 0) > 0 for step in self.stages):
                raise ValueError("every step of 'stages' has rate 0")
        return self

    def seed_plan(self) -> SeedPlan | None:
        """What to seed the embedded simulator with, or None (``simulatorData: false``)."""
        if self.simulator_data is False:
            return None
        return SeedPlan() if self.simulator_data is True else self.simulator_data

    def rate_stages(self) -> list[Stage]:
        """The ``stages`` as load-engine steps (``ramp: true`` resolved to the next step's rate)."""
        steps = self.stages or []
        return [
            Stage(step.rate, step.duration,
                  steps[index + 1].rate if step.ramp else step.ramp_to)
            for index, step in enumerate(steps)
        ]

    def arrival_model(self) -> ArrivalModel:
        """The arrival model these options describe, ending after ``runTime`` (or its stages' end)."""
        if self.arrival == "concurrent":
            assert self.concurrency is not None
            return ConcurrentArrivals(self.concurrency, duration=self.run_time)
        if self.stages is not None:
            return StagesArrivals(self.rate_stages(), process=self.arrival, seed=self.seed)
        assert self.rate is not None
        if self.arrival == "poisson":
            return PoissonArrivals(self.rate, duration=self.run_time, seed=self.seed)
        return ConstantArrivals(self.rate, duration=self.run_time)


@register
class RandomGetsRunner(AsyncRunner[RandomGetsOptions]):
    """Drives the KFP API's read endpoints with the load engine (see the module docstring)."""

    options_model = RandomGetsOptions
    needs_kfp = True

    def __init__(self, entry: RandomGetsOptions, context: RunContext) -> None:
        super().__init__(entry, context)
        self.engine: LoadEngine[Any] | None = None
        self.result: LoadTotals | None = None

    def prepare(self) -> None:
        """Seed the embedded simulator (only it) so the reads that need an id have some."""
        target = self.context.require_kfp()
        plan = self.entry.seed_plan()
        if plan is None or target.kind != EMBEDDED_KIND:
            return
        try:
            seeded = seed_simulator(target.url, plan, namespace=self._namespace(),
                                    timeout=target.connection.request_timeout)
        except SeedError as exc:
            self.log.warning("could not seed the embedded simulator: %s", exc)
            self.mark("note", message=f"could not seed the embedded simulator: {exc}")
            return
        self.log.info("%s", seeded.describe())
        if seeded.created:
            self.mark("note", message=seeded.describe())

    def _namespace(self) -> str | None:
        target = self.context.require_kfp()
        if self.entry.namespace is None and target.connection.multi_user:
            return target.connection.namespace
        return self.entry.namespace

    async def run_async(self) -> None:
        entry = self.entry
        target = self.context.require_kfp()
        namespace = self._namespace()
        recorder = PerSecondAggregator(
            self.context.events, entry.name, entry.mode,
            every_request=self.context.settings.results.log_every_request,
        )
        clock = self.context.clock
        arrivals = entry.arrival_model()
        shard = self.context.shard
        if shard is not None:  # a scaled-out run: every N-th arrival of the one schedule
            arrivals = shard_arrivals(arrivals, shard.index, shard.count)
        async with kfp_session(target, entry.max_concurrency) as session:
            workload = KfpGetsWorkload(
                session, target.url, entry.endpoints,
                page_size=entry.page_size, sort_by=entry.sort_by or None, namespace=namespace,
                refresh_interval=entry.id_refresh, rng=random.Random(entry.seed),
            )
            engine = LoadEngine(
                arrivals, workload, recorder,
                max_concurrency=entry.max_concurrency, max_lateness=entry.max_lateness,
                drain_timeout=min(target.connection.request_timeout, 10.0),
                clock=clock, stopping=self.stopping,  # the runner's stop is the engine's
                start_at=self._schedule_start(entry.max_lateness),
            )
            self.engine = engine
            self.result = result = await engine.run()
        self.log.info("%s", result.describe())
        self.mark("note", message=result.describe(), attrs={"load": result.as_json()})
        for line in workload.unserved():
            self.log.warning("%s", line)
            self.mark("note", message=line)

    def _schedule_start(self, max_lateness: float) -> float | None:
        """The entry's start on the run clock, so arrivals fill [startTime, startTime + runTime); None
        (start now) when the runner got here too late for that to be fair to the first arrivals. A shard
        always keeps the anchor: its arrivals are every N-th of the one schedule, and moving them would
        leave gaps and duplicates between the shards (late arrivals are sent late or dropped instead)."""
        anchor = self.context.clock.monotonic_at(self.entry.start_time)
        if self.context.shard is not None:
            return anchor
        return anchor if self.context.clock.monotonic() - anchor < max_lateness / 2 else None

    def context_stats(self) -> str:
        engine = self.engine
        return engine.progress() if engine is not None else ""
