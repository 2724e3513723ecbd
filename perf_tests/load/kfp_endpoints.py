"""Read-only KFP v2beta1 endpoints as a load-engine workload: weighted random GETs, like a UI's traffic.

Each arrival picks an endpoint by weight. ``get_*`` calls (and ``list_pipeline_versions``) need an id:
they pick one at random from a pool filled from the load's own list responses, refreshed every
``refresh_interval`` seconds, so no unmeasured traffic is added. While a pool is empty (a new or empty
server) such a call falls back to the list call of its resource, which is recorded as that list call
and fills the pool; ``unserved()`` says afterwards which endpoints were sent as their list call, how
often, and whether they were ever called at all (for the entry's notes).

List calls send ``page_size``, ``sort_by`` and ``namespace`` and report the ``total_size`` they saw as
an attribute of their second, so a report can put list latency next to the table size (KFP's ListRuns
gets slow as the runs table grows: kubeflow/pipelines issues #9780 and #9890). ``total_size`` is read
with a byte search; the body is only parsed as JSON when a pool is due for a refresh.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from perf_tests.load.http import HttpStatusError

__all__ = ["DEFAULT_ENDPOINT_MIX", "KFP_ENDPOINTS", "KfpEndpoint", "KfpGetsWorkload", "total_size"]

API = "/apis/v2beta1"
MAX_POOL = 1000  # ids kept per resource


@dataclass(frozen=True)
class _Spec:
    path: str  # with {id} when the call needs an id from ``needs``'s pool
    lists: bool = False  # the answer is a page with total_size
    needs: str | None = None  # resource whose ids the path takes
    harvests: str | None = None  # resource whose ids the answer holds
    namespaced: bool = False


# Resource -> (list key in the answer, id field of an item).
_RESOURCES = {
    "runs": ("runs", "run_id"),
    "experiments": ("experiments", "experiment_id"),
    "pipelines": ("pipelines", "pipeline_id"),
}

_SPECS: dict[str, _Spec] = {
    "list_runs": _Spec(f"{API}/runs", lists=True, harvests="runs", namespaced=True),
    "get_run": _Spec(f"{API}/runs/{{id}}", needs="runs"),
    "list_experiments": _Spec(f"{API}/experiments", lists=True, harvests="experiments", namespaced=True),
    "get_experiment": _Spec(f"{API}/experiments/{{id}}", needs="experiments"),
    "list_pipelines": _Spec(f"{API}/pipelines", lists=True, harvests="pipelines", namespaced=True),
    "get_pipeline": _Spec(f"{API}/pipelines/{{id}}", needs="pipelines"),
    "list_pipeline_versions": _Spec(f"{API}/pipelines/{{id}}/versions", lists=True, needs="pipelines"),
    "healthz": _Spec(f"{API}/healthz"),
}
_LIST_OF = {"runs": "list_runs", "experiments": "list_experiments", "pipelines": "list_pipelines"}

KFP_ENDPOINTS: tuple[str, ...] = tuple(_SPECS)
"""Every endpoint name the workload knows, in a stable order."""

DEFAULT_ENDPOINT_MIX: Mapping[str, float] = {
    "list_runs": 5,
    "get_run": 3,
    "list_experiments": 1,
    "list_pipelines": 1,
    "get_pipeline": 1,
    "list_pipeline_versions": 1,
    "healthz": 0,
}
"""A UI-like mix: the runs page dominates, then run details, then the other list pages."""


@dataclass(eq=False)
class KfpEndpoint:
    """One endpoint: its fixed URL, or the URLs built from its resource pool's ids."""

    name: str
    spec: _Spec
    url: URL | None = None
    urls: list[URL] = field(default_factory=list)
    fallback: KfpEndpoint | None = None

    @property
    def lists(self) -> bool:
        """True when the answer is a page with ``total_size``."""
        return self.spec.lists


@dataclass
class _Pool:
    ids: list[str] = field(default_factory=list)
    refresh_at: float = 0.0


def total_size(body: bytes) -> int:
    """The ``total_size`` of a list answer without parsing the whole body (0 when absent)."""
    at = body.rfind(b'"total_size"')
    if at < 0:
        return 0
    colon = body.find(b":", at + 12)
    if colon < 0:
        return 0
    end = colon + 1
    size = len(body)
    while end < size and body[end] in b' \t\r\n"':
        end += 1
    start = end
    while end < size and 48 <= body[end] <= 57:
        end += 1
    return int(body[start:end]) if end > start else 0


class KfpGetsWorkload:
    """Weighted random KFP reads for the ``LoadEngine`` (not thread-safe: one event loop)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        mix: Mapping[str, float] = DEFAULT_ENDPOINT_MIX,
        *,
        page_size: int = 10,
        sort_by: str | None = "created_at desc",
        namespace: str | None = None,
        refresh_interval: float = 5.0,
        rng: random.Random | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        unknown = sorted(set(mix) - set(_SPECS))
        if unknown:
            raise ValueError(f"unknown endpoint(s) {', '.join(unknown)}; valid: {', '.join(KFP_ENDPOINTS)}")
        if any(weight < 0 for weight in mix.values()) or not any(weight > 0 for weight in mix.values()):
            raise ValueError("endpoint weights must be >= 0 with at least one > 0")
        self._session = session
        self._random = (rng or random.Random()).random
        self._now = now
        self.refresh_interval = refresh_interval
        base = base_url.rstrip("/")
        list_query: dict[str, str | int] = {"page_size": page_size}
        if sort_by:
            list_query["sort_by"] = sort_by
        namespaced_query = {**list_query, **({"namespace": namespace} if namespace else {})}
        self.endpoints: dict[str, KfpEndpoint] = {}
        self._templates: dict[str, Callable[[str], URL]] = {}
        for name, spec in _SPECS.items():
            query = (namespaced_query if spec.namespaced else list_query) if spec.lists else {}
            endpoint = KfpEndpoint(name, spec)
            if spec.needs is None:
                endpoint.url = URL(base + spec.path).with_query(query) if query else URL(base + spec.path)
            else:
                self._templates[name] = _template(base + spec.path, query)
            self.endpoints[name] = endpoint
        for endpoint in self.endpoints.values():
            if endpoint.spec.needs is not None:
                endpoint.fallback = self.endpoints[_LIST_OF[endpoint.spec.needs]]
        self._pools = {resource: _Pool() for resource in _RESOURCES}
        self.fallbacks: dict[str, int] = {}  # endpoint name -> arrivals sent as its list call instead
        chosen = [(self.endpoints[name], weight) for name, weight in mix.items() if weight > 0]
        self._choices = [endpoint for endpoint, _ in chosen]
        self._cumulative = list(itertools.accumulate(weight for _, weight in chosen))
        self._total_weight = self._cumulative[-1]

    def pick(self) -> KfpEndpoint:
        """An endpoint by weight; a call that needs an id falls back to its list call while none is known."""
        endpoint = self._choices[bisect.bisect_right(self._cumulative, self._random() * self._total_weight)]
        if endpoint.fallback is not None and not endpoint.urls:
            self.fallbacks[endpoint.name] = self.fallbacks.get(endpoint.name, 0) + 1
            return endpoint.fallback
        return endpoint

    def unserved(self) -> list[str]:
        """One line per endpoint some of whose arrivals were sent as its list call (no id was known)."""
        lines = []
        for name, count in sorted(self.fallbacks.items()):
            endpoint = self.endpoints[name]
            assert endpoint.fallback is not None
            assert endpoint.spec.needs is not None
            kind = endpoint.spec.needs.rstrip("s")
            if endpoint.urls:
                arrivals = "1 arrival was" if count == 1 else f"{count} arrivals were"
                lines.append(f"{name}: {arrivals} sent as {endpoint.fallback.name} before the first {kind} ids "
                             "were known")
            else:
                arrivals = "its 1 arrival was" if count == 1 else f"all its {count} arrivals were"
                lines.append(f"{name} was never called: no {endpoint.fallback.name} answer listed any "
                             f"{endpoint.spec.needs}, so {arrivals} sent as {endpoint.fallback.name}")
        return lines

    async def send(self, operation: KfpEndpoint) -> Mapping[str, Any] | None:
        """GET the endpoint (a random id's URL for ``get_*``); raise ``HttpStatusError`` on >= 300."""
        urls = operation.urls
        if urls:
            url = urls[int(self._random() * len(urls))]
        else:
            assert operation.url is not None, f"{operation.name} has no id to call yet"
            url = operation.url
        async with self._session.get(url, allow_redirects=False) as response:
            body = await response.read()
            status = response.status
            if status >= 300:
                raise HttpStatusError(status, response.reason or "", body)
        if not operation.spec.lists:
            return None
        harvests = operation.spec.harvests
        if harvests is not None:
            pool = self._pools[harvests]
            if not pool.ids or self._now() >= pool.refresh_at:
                self._harvest(harvests, body)
        return {"total_size": total_size(body)}

    def pool_size(self, resource: str) -> int:
        """How many ids of ``resource`` (runs, experiments, pipelines) are known."""
        return len(self._pools[resource].ids)

    def _harvest(self, resource: str, body: bytes) -> None:
        pool = self._pools[resource]
        pool.refresh_at = self._now() + self.refresh_interval
        key, id_field = _RESOURCES[resource]
        try:
            items = json.loads(body).get(key) or []
        except (ValueError, AttributeError):
            return
        ids = [str(item[id_field]) for item in items[:MAX_POOL] if isinstance(item, dict) and item.get(id_field)]
        if not ids:
            return
        pool.ids = ids
        for name, endpoint in self.endpoints.items():
            if endpoint.spec.needs == resource:
                make = self._templates[name]
                endpoint.urls = [make(item_id) for item_id in ids]


def _template(path: str, query: Mapping[str, str | int]) -> Callable[[str], URL]:
    def make(item_id: str) -> URL:
        url = URL(path.format(id=item_id))
        return url.with_query(query) if query else url

    return make
