"""The ``prometheus`` block of a scenario entry: named PromQL queries (and presets) over the entry's window.

::

    "prometheus": {"step": "5s", "presets": ["vllm"],
                   "queries": {"replicas": "sum(kube_deployment_status_replicas_ready{deployment=~\\"$model.*\\"})"},
                   "variables": {"deployment": "ms-decode"}}

A block can stand on an entry or at the top of a scenario file in object form
(``{"prometheus": {...}, "entries": [...]}``), where it applies to every entry that has none of its own.
The queries are text for Prometheus: this module never parses PromQL, it only fills ``$variables``:

- ``$namespace``: the entry's namespace (``NAMESPACE`` when the entry has none),
- ``$model``: the entry's ``model`` (``.+`` when it has none, so a regex label match takes any),
- ``$rate``: the range of ``rate()`` windows, ``rateWindow`` (default four steps, at least 4 s),
- ``$deployment`` (``.+``) and ``$kfp_job`` (``ml-pipeline``), and any of ``variables``, which also
  overrides the others.

An unknown ``$name`` is an error naming the defined ones. Presets (``PRESETS``) are named query sets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from perf_tests.errors import echo
from perf_tests.models.durations import Seconds
from perf_tests.models.fields import OptionsModel

__all__ = [
    "MAX_QUERIES",
    "PRESETS",
    "PRESET_NAMES",
    "PrometheusBlock",
    "query_variables",
]

MAX_QUERIES = 50
"""Queries one block may have, presets included (each is one range query per window)."""

_SELECT = '{grpc_service=~"kubeflow.pipelines.*"}'
PRESETS: dict[str, dict[str, str]] = {
    # vLLM's own /metrics (vllm:...), labelled by model_name.
    "vllm": {
        "running": 'sum(vllm:num_requests_running{model_name=~"$model"})',
        "waiting": 'sum(vllm:num_requests_waiting{model_name=~"$model"})',
        "kv_cache": 'avg(vllm:kv_cache_usage_perc{model_name=~"$model"})',
        "ttft_p95": 'histogram_quantile(0.95, sum by (le) '
                    '(rate(vllm:time_to_first_token_seconds_bucket{model_name=~"$model"}[$rate])))',
        "tokens_per_s": 'sum(rate(vllm:generation_tokens_total{model_name=~"$model"}[$rate]))',
    },
    # The Workload Variant Autoscaler (wva_*, inferno_* before its rename) and kube-state-metrics, as the
    # seed-003 stair-step experiment reads them.
    "llm-d": {
        "desired_replicas": 'sum(wva_desired_replicas{namespace="$namespace"}) '
                            'or sum(inferno_desired_replicas{namespace="$namespace"})',
        "current_replicas": 'sum(wva_current_replicas{namespace="$namespace"}) '
                            'or sum(inferno_current_replicas{namespace="$namespace"})',
        "ready_replicas": 'sum(kube_deployment_status_replicas_ready{namespace="$namespace",'
                          'deployment=~"$deployment"})',
        "waiting": 'sum(vllm:num_requests_waiting{namespace="$namespace"})',
        "kv_cache": 'avg(vllm:kv_cache_usage_perc{namespace="$namespace"})',
    },
    # The KFP API server: go-grpc-prometheus names (the embedded simulator exports the same), cAdvisor for
    # its container (process_* of the scrape job off-cluster), mysqld-exporter when it is there.
    "kfp": {
        "api_cpu": 'sum(rate(container_cpu_usage_seconds_total{namespace="$namespace",'
                   'container="ml-pipeline-api-server"}[$rate])) '
                   'or sum(rate(process_cpu_seconds_total{job="$kfp_job"}[$rate]))',
        "api_memory": 'sum(container_memory_working_set_bytes{namespace="$namespace",'
                      'container="ml-pipeline-api-server"}) '
                      'or sum(process_resident_memory_bytes{job="$kfp_job"})',
        "request_rate": f"sum(rate(grpc_server_handled_total{_SELECT}[$rate]))",
        "request_rate_by_method": f"sum by (grpc_method) (rate(grpc_server_handled_total{_SELECT}[$rate]))",
        "latency_p95_by_method": "histogram_quantile(0.95, sum by (grpc_method, le) "
                                 f"(rate(grpc_server_handling_seconds_bucket{_SELECT}[$rate])))",
        "runs_by_state": "sum by (state) (kfp_simulator_runs) or sum(run_server_run_count)",
        "mysql_connections": 'sum(mysql_global_status_threads_connected{namespace="$namespace"})',
        "mysql_queries_per_s": 'sum(rate(mysql_global_status_queries{namespace="$namespace"}[$rate]))',
    },
}
PRESETS["wva"] = {name: PRESETS["llm-d"][name] for name in ("desired_replicas", "current_replicas",
                                                            "ready_replicas")}
PRESET_NAMES = tuple(sorted(PRESETS))

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_BUILT_IN_VARIABLES = ("deployment", "kfp_job", "model", "namespace", "rate")


class PrometheusBlock(OptionsModel):
    """Named PromQL queries evaluated over the entry's window (and each stage's) at a fixed step."""

    step: Seconds = Field(default=5.0, description="Resolution of the range queries (seconds or '5s').")
    rate_window: Seconds | None = Field(
        default=None, description="Range of rate() windows, $rate in a query (default 4 steps, at least 4s)."
    )
    presets: list[Literal["kfp", "llm-d", "vllm", "wva"]] = Field(
        default_factory=list, description="Named query sets: vllm, llm-d, wva, kfp (see the README)."
    )
    queries: dict[str, str] = Field(
        default_factory=dict,
        description="Query name -> PromQL; $namespace, $model, $rate, $deployment, $kfp_job and variables "
        "are filled in. A name here replaces a preset's query of the same name.",
    )
    variables: dict[str, str] = Field(default_factory=dict, description="More $variables (or overrides).")

    @field_validator("step")
    @classmethod
    def _positive_step(cls, value: float) -> float:
        if not 0.001 <= value <= 3600:
            raise ValueError("step must be between 1ms and 1h")
        return value

    @field_validator("queries")
    @classmethod
    def _named_queries(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _NAME.fullmatch(name):
                raise ValueError(f"query name {echo(name)} must be letters, digits and '_' (it is used as "
                                 "prom:<name> in thresholds)")
            if not text.strip():
                raise ValueError(f"query {name!r} is empty; give a PromQL expression")
            if len(text) > 4000:
                raise ValueError(f"query {name!r} is longer than 4000 characters")
        return {name: text.strip() for name, text in value.items()}

    @field_validator("variables")
    @classmethod
    def _plain_variables(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _NAME.fullmatch(name):
                raise ValueError(f"variable name {echo(name)} must be letters, digits and '_'")
            if any(char in text for char in '"\\\n'):
                raise ValueError(f"variable {name!r} cannot hold quotes, backslashes or line breaks")
        return value

    @model_validator(mode="after")
    def _known_variables(self) -> PrometheusBlock:
        if not self.presets and not self.queries:
            raise ValueError("the prometheus block names no query: add 'queries' or 'presets' "
                             f"(presets: {', '.join(PRESET_NAMES)})")
        defined = sorted({*_BUILT_IN_VARIABLES, *self.variables})
        for name, text in self.templates().items():
            unknown = sorted({found for found in _VARIABLE.findall(text) if found not in defined})
            if unknown:
                raise ValueError(f"query {name!r} uses ${unknown[0]}, which is not defined; defined: "
                                 + ", ".join(f"${v}" for v in defined))
        if len(self.templates()) > MAX_QUERIES:
            raise ValueError(f"{len(self.templates())} queries; at most {MAX_QUERIES} are allowed")
        return self

    def templates(self) -> dict[str, str]:
        """Every query by name, presets first (a query of the block replaces a preset's of the same name)."""
        merged: dict[str, str] = {}
        for preset in self.presets:
            merged.update(PRESETS[preset])
        merged.update(self.queries)
        return merged

    @property
    def names(self) -> list[str]:
        """The query names, as thresholds refer to them (``prom:<name>``)."""
        return sorted(self.templates())

    @property
    def rate_seconds(self) -> float:
        """The range of ``$rate``."""
        return self.rate_window if self.rate_window is not None else max(4.0 * self.step, 4.0)

    def expressions(self, variables: Mapping[str, str]) -> dict[str, str]:
        """Every query with its ``$variables`` filled from ``variables`` and the block's own."""
        values = {"deployment": ".+", "kfp_job": "ml-pipeline", "model": ".+", "namespace": "default",
                  **dict(variables), "rate": _duration(self.rate_seconds), **self.variables}
        return {name: _VARIABLE.sub(lambda m: values[m.group(1)], text) for name, text in self.templates().items()}


def query_variables(entry: Any, namespace: str) -> dict[str, str]:
    """``$namespace`` and ``$model`` of an entry: its own fields when it has them."""
    values = {"namespace": str(getattr(entry, "namespace", None) or namespace)}
    model = getattr(entry, "model", None)
    if isinstance(model, str) and model and not any(char in model for char in '"\\\n'):
        values["model"] = model  # a regex in the presets: '.' in a name matches itself too
    return values


def _duration(seconds: float) -> str:
    """A PromQL duration: whole milliseconds."""
    return f"{max(1, round(seconds * 1000))}ms"
