"""A small client of the Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``), which a Thanos
querier serves too, on a ``DeadlinePoolManager``: every call ends within ``PROMETHEUS_TIMEOUT`` in total.

Queries are sent as they are (form-encoded POST, as the API documents); Prometheus parses them and its
``errorType``/``error`` answer becomes a ``PrometheusQueryError`` naming the query. An unreachable server,
a 401/403, an HTML page or any other answer that is not the API is a ``TargetError`` saying what to set.
"""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import urlencode

import urllib3

from perf_tests.config.settings import PrometheusSettings
from perf_tests.errors import TargetError, echo
from perf_tests.logger.redaction import redact
from perf_tests.targets.deadline import DeadlineExceeded, DeadlinePoolManager

__all__ = ["PrometheusClient", "PrometheusQueryError"]

MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""An answer larger than this is refused (a range query over a long window at a small step)."""

_HINT = ("check PROMETHEUS_URL (for a cluster's Thanos querier: kubectl port-forward -n openshift-monitoring "
         "svc/thanos-querier 9091:9091, then PROMETHEUS_URL=https://localhost:9091)")


class PrometheusQueryError(TargetError):
    """Prometheus refused one query (bad PromQL, a query it cannot run); the message names the query."""


class PrometheusClient:
    """Instant and range queries against ``settings.prometheus_url``."""

    def __init__(self, settings: PrometheusSettings) -> None:
        self.settings = settings
        self.url = settings.prometheus_url
        self._headers = {"Accept": "application/json"}
        token = settings.bearer_token()
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        https = self.url.startswith("https:")
        self._pool = DeadlinePoolManager(
            settings.prometheus_timeout, connect_seconds=min(10.0, settings.prometheus_timeout),
            setting="PROMETHEUS_TIMEOUT",
            cert_reqs=ssl.CERT_REQUIRED if https and settings.prometheus_verify_ssl else ssl.CERT_NONE,
            ca_certs=str(settings.prometheus_ca_bundle) if settings.prometheus_ca_bundle else None,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.clear()

    def check(self) -> None:
        """``TargetError`` unless the URL answers as the Prometheus HTTP API (a query of ``vector(1)``)."""
        self.query("vector(1)")

    def query(self, expr: str, at: float | None = None, name: str = "") -> list[dict[str, Any]]:
        """The result of an instant query (``at``: epoch seconds; default now)."""
        fields = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        return self._call("query", fields, name or expr)

    def query_range(self, expr: str, start: float, end: float, step: float, name: str = "") -> list[dict[str, Any]]:
        """The matrix of a range query from ``start`` to ``end`` (epoch seconds) every ``step`` seconds."""
        fields = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._call("query_range", fields, name or expr)

    def _call(self, endpoint: str, fields: dict[str, str], name: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/{endpoint}"
        where = f"Prometheus at {self.url}"
        try:
            response = self._pool.urlopen(
                "POST", url, body=urlencode(fields), redirect=False, preload_content=False,
                headers={**self._headers, "Content-Type": "application/x-www-form-urlencoded"},
            )
            try:
                body = response.read(MAX_ANSWER_BYTES + 1)
            finally:
                response.release_conn()
        except DeadlineExceeded:
            raise TargetError(f"{where} did not answer {endpoint} within {self.settings.prometheus_timeout:g}s "
                              "(PROMETHEUS_TIMEOUT); it is overloaded, the window is too long for the step, "
                              f"or it is not Prometheus; {_HINT}") from None
        except urllib3.exceptions.SSLError as exc:
            raise TargetError(f"{where}: TLS failed ({redact(str(exc))}); set PROMETHEUS_CA_BUNDLE "
                              "to its CA, or PROMETHEUS_VERIFY_SSL=false") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise TargetError(f"{where} is unreachable ({redact(str(reason))}); {_HINT}") from None
        if len(body) > MAX_ANSWER_BYTES:
            raise TargetError(f"{where}: the answer to {echo(name)} is larger than "
                              f"{MAX_ANSWER_BYTES // (1024 * 1024)} MiB; use a larger step")
        status = int(response.status)
        if status in (401, 403):
            raise TargetError(f"{where} answered HTTP {status} ({'unauthorized' if status == 401 else 'forbidden'}); "
                              "set PROMETHEUS_TOKEN or PROMETHEUS_TOKEN_FILE to a token with read access to its "
                              "API (e.g. oc create token <service account> -n <namespace>)")
        if 300 <= status < 400:
            raise TargetError(f"{where} redirects (HTTP {status}), probably to a login page; give the API's own "
                              f"URL and a token; {_HINT}")
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            kind = "HTML" if body.lstrip()[:1] == b"<" else "not JSON"
            raise TargetError(f"{where} answered HTTP {status} with {kind}, not the Prometheus HTTP API; "
                              f"{_HINT}") from None
        if not isinstance(answer, dict):
            raise TargetError(f"{where} answered HTTP {status} with JSON that is not the Prometheus API; {_HINT}")
        if answer.get("status") != "success":
            error = redact(str(answer.get("error") or f"HTTP {status}"))[:500]
            kind = str(answer.get("errorType") or "error")
            if kind == "bad_data":
                raise PrometheusQueryError(f"{where} rejected query {echo(name)}: {error}")
            raise PrometheusQueryError(f"{where} could not run query {echo(name)} ({kind}): {error}")
        data = answer.get("data") or {}
        result = data.get("result") if isinstance(data, dict) else None
        if data.get("resultType") == "scalar" and isinstance(result, list):
            return [{"metric": {}, "value": result}]
        return [item for item in result if isinstance(item, dict)] if isinstance(result, list) else []
