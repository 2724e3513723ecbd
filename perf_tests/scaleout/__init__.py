"""Scale-out: one scenario over several processes (pytest-xdist, ``--shard``) or pods, one merged verdict.

``plan`` splits each entry (rates, runs in flight, concurrency; unsplittable entries on shard 0),
``arrivals`` splits an open-loop schedule so the shards' union is the one schedule, ``session`` runs one
shard from a shared start time, ``snapshot`` and ``result`` carry a shard's recorded numbers exactly
(HDR histograms encoded), ``merge`` adds them up and judges the whole run once, ``xdist`` is the
pytest-xdist side and ``kube`` the Kubernetes Indexed Job side.

Only the light modules are imported here (runners import ``arrivals``); import ``session``, ``merge``
and ``xdist`` from their modules.
"""

from perf_tests.scaleout.arrivals import ShardedArrivals, shard_arrivals
from perf_tests.scaleout.shard import DEFAULT_START_LEAD, ShardSpec, parse_shard, parse_start_at, split_count

__all__ = [
    "DEFAULT_START_LEAD",
    "ShardSpec",
    "ShardedArrivals",
    "parse_shard",
    "parse_start_at",
    "shard_arrivals",
    "split_count",
]
