"""How each scenario entry is split over shards: what shard ``i`` of ``N`` runs of it, and what it cannot split.

- ``RANDOM_GETS`` open loop (constant, poisson, stages): every shard keeps every N-th arrival of the one
  schedule (``ShardedArrivals``; a shared seed for random schedules), so the union is the schedule;
  ``maxConcurrency`` is split too. Closed loop: ``concurrency`` is split (remainder to the first shards).
- ``PIPELINE_RUN`` / ``EXPERIMENT``: ``numTimes`` runs in flight, ``totalRuns`` and ``maxPollsPerSecond``
  are split; an ``experimentName`` gets a ``-shard<i>`` suffix (each shard creates and deletes its own).
- ``PIPELINE_UPLOAD``: upload ``k`` is made by shard ``k % N`` at its own due time (the shard's entry
  starts ``i`` intervals later and its uploads are ``N`` intervals apart); one upload cannot be split.
- ``LLM_LOAD``: a constant or poisson ``rate`` or each step of ``stages`` is divided by N (one GuideLLM
  process per shard), concurrent streams and ``maxRequests`` are split. ``synchronous``, ``throughput``
  and ``sweep`` measure one client's limits: they run on shard 0 only.
- ``PIPELINE_SCHEDULED_RUN`` (one recurring run) and modes without a rule run on shard 0 only.

A shard whose part of an entry is nothing (``numTimes`` 3 over 4 shards) does not run it; every entry
runs on at least one shard, and the plan's notes say what ran where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from perf_tests.models.scenario import ScenarioEntry
from perf_tests.models.scenario_file import Scenario
from perf_tests.scaleout.shard import split_count

__all__ = ["EntryShare", "ShardPlan", "plan_shard", "share_entry"]


@dataclass
class EntryShare:
    """Shard ``index``'s part of one entry: the entry to run (None: nothing) and what was not split."""

    name: str
    entry: ScenarioEntry | None
    note: str | None = None
    split: bool = True


@dataclass
class ShardPlan:
    """One shard's scenario: the entries it runs (in scenario order) and one share per original entry."""

    index: int
    count: int
    scenario: Scenario
    shares: list[EntryShare] = field(default_factory=list)

    def notes(self) -> list[str]:
        return [f"{share.name}: {share.note}" for share in self.shares if share.note]


def _only_on_first(entry: ScenarioEntry, index: int, why: str) -> EntryShare:
    return EntryShare(entry.name, entry if index == 0 else None, f"runs on shard 0 only: {why}", split=False)


def _nothing(entry: ScenarioEntry, index: int, count: int, what: str) -> EntryShare:
    return EntryShare(entry.name, None, f"{what} over {count} shards leaves nothing for shard {index}")


def share_entry(entry: ScenarioEntry, index: int, count: int, seed: int = 0) -> EntryShare:
    """What shard ``index`` of ``count`` runs of ``entry`` (see the module docstring)."""
    if count == 1:
        return EntryShare(entry.name, entry)
    mode = entry.mode
    data: Any = entry
    if mode == "PIPELINE_SCHEDULED_RUN":
        return _only_on_first(entry, index, "a recurring run cannot be split")
    if mode in ("PIPELINE_RUN", "EXPERIMENT"):
        runs = split_count(data.num_times, index, count)
        if not runs:
            return _nothing(entry, index, count, f"numTimes {data.num_times}")
        update: dict[str, Any] = {"num_times": runs, "max_polls_per_second": data.max_polls_per_second / count}
        if data.total_runs is not None:
            total = split_count(data.total_runs, index, count)
            if not total:
                return _nothing(entry, index, count, f"totalRuns {data.total_runs}")
            update["total_runs"] = total
        if getattr(data, "experiment_name", None):
            update["experiment_name"] = f"{data.experiment_name}-shard{index}"
        return EntryShare(entry.name, entry.model_copy(update=update))
    if mode == "PIPELINE_UPLOAD":
        if data.num_times == 1:
            return _only_on_first(entry, index, "one upload cannot be split")
        uploads = split_count(data.num_times, index, count)
        if not uploads:
            return _nothing(entry, index, count, f"numTimes {data.num_times}")
        interval = entry.run_time / data.num_times
        return EntryShare(entry.name, entry.model_copy(update={
            "num_times": uploads,
            "start_time": entry.start_time + index * interval,
            "run_time": uploads * count * interval,
        }))
    if mode == "RANDOM_GETS":
        update = {"max_concurrency": max(1, math.ceil(data.max_concurrency / count))}
        if data.arrival == "concurrent":
            clients = split_count(data.concurrency, index, count)
            if not clients:
                return _nothing(entry, index, count, f"concurrency {data.concurrency}")
            update = {"concurrency": clients, "max_concurrency": max(clients, update["max_concurrency"])}
        elif data.seed is None:
            update["seed"] = seed  # the one random schedule, split (see ShardedArrivals)
        return EntryShare(entry.name, entry.model_copy(update=update))
    if mode == "LLM_LOAD":
        return _share_llm(entry, index, count)
    return _only_on_first(entry, index, f"mode {mode} has no sharding rule")


def _share_llm(entry: ScenarioEntry, index: int, count: int) -> EntryShare:
    data: Any = entry
    kind = data.rate_type
    if kind in ("synchronous", "throughput", "sweep"):
        return _only_on_first(entry, index, f"rateType {kind} measures one client's limit")
    update: dict[str, Any] = {}
    if kind == "concurrent":
        streams = split_count(int(data.rate), index, count)
        if not streams:
            return _nothing(entry, index, count, f"{int(data.rate)} concurrent streams")
        update["rate"] = float(streams)
    elif data.stages is not None:
        update["stages"] = [stage.model_copy(update={"rate": stage.rate / count}) for stage in data.stages]
    elif data.rate is not None:
        update["rate"] = data.rate / count
    if data.max_requests is not None:
        requests = split_count(data.max_requests, index, count)
        if not requests:
            return _nothing(entry, index, count, f"maxRequests {data.max_requests}")
        update["max_requests"] = requests
    if data.max_concurrency is not None:
        update["max_concurrency"] = max(1, math.ceil(data.max_concurrency / count))
    return EntryShare(entry.name, entry.model_copy(update=update),
                      "GuideLLM paces each shard's process on its own: the split rates add up, the arrival "
                      "times are not interleaved" if index == 0 and kind in ("constant", "poisson") else None)


def plan_shard(scenario: Scenario, index: int, count: int, seed: int = 0) -> ShardPlan:
    """Shard ``index`` of ``count``'s scenario (the same file, path and raw JSON; the entries split)."""
    shares = [share_entry(entry, index, count, seed) for entry in scenario.entries]
    entries = [share.entry for share in shares if share.entry is not None]
    return ShardPlan(index, count, Scenario(path=scenario.path, raw=scenario.raw, entries=entries), shares)
