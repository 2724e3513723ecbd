"""The KFP target of a run: the configured cluster, or the embedded simulator when ``API_HOST`` is unset.

``resolve_kfp_target`` starts the embedded simulator if needed and checks the target's health endpoint
with a short timeout before any runner starts, so a wrong host fails in seconds with a clear message
(an HTML page from an auth proxy is recognised as such) instead of minutes later in every runner.
"""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

import urllib3

from perf_tests.config.settings import AuthSettings, ConnectionSettings
from perf_tests.errors import TargetError
from perf_tests.logger.redaction import redact
from perf_tests.targets.deadline import DeadlineExceeded, DeadlinePoolManager
from perf_tests.targets.kfp_client import build_kfp_client

__all__ = ["EMBEDDED_KIND", "KfpTarget", "check_kfp_health", "resolve_kfp_target"]

EMBEDDED_KIND = "embedded-kfp-simulator"
CLUSTER_KIND = "kfp"
HEALTHZ_PATH = "/apis/v2beta1/healthz"
logger = logging.getLogger(__name__)
_warned_insecure = False


@dataclass
class KfpTarget:
    """Where the KFP API is, what it is, and how to build clients for it."""

    url: str
    kind: str
    connection: ConnectionSettings
    auth: AuthSettings
    version: str | None = None
    multi_user: bool | None = None
    embedded_server: Any = field(default=None, repr=False)

    @property
    def description(self) -> str:
        """Human-readable: says plainly when the target is the embedded simulator."""
        if self.kind == EMBEDDED_KIND:
            return f"embedded KFP simulator at {self.url} (not a cluster)"
        version = f", KFP {self.version}" if self.version else ""
        return f"KFP API at {self.url}{version}"

    def client(self, pool_size: int = 16) -> Any:
        """A new real ``kfp.Client`` for this target."""
        return build_kfp_client(self.url, self.connection, self.auth, pool_size=pool_size)

    def http_headers(self) -> dict[str, str]:
        """Authentication headers for raw HTTP clients (bearer token, cookie)."""
        headers: dict[str, str] = {}
        token = self.auth.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        cookie = self.auth.cookie()
        if cookie:
            headers["Cookie"] = cookie
        return headers

    def ssl_context(self) -> ssl.SSLContext | bool:
        """TLS settings for aiohttp: a context with the CA bundle, or False when verification is off."""
        if not self.url.startswith("https"):
            return True
        if not self.connection.verify_ssl:
            return False
        return ssl.create_default_context(
            cafile=str(self.connection.ca_bundle) if self.connection.ca_bundle else None
        )

    def as_json(self) -> dict[str, Any]:
        """What results files record about the target (redacted: no credentials of any URL)."""
        return {
            "kind": self.kind,
            "url": redact(self.url),
            "version": self.version,
            "multi_user": self.multi_user,
            "description": redact(self.description),
        }

    def stop(self) -> None:
        """Stop the embedded simulator, if this target started one."""
        if self.embedded_server is not None:
            self.embedded_server.stop()
            self.embedded_server = None


def resolve_kfp_target(connection: ConnectionSettings, auth: AuthSettings, timeout: float = 5.0) -> KfpTarget:
    """The configured KFP API (checked), or a freshly started embedded simulator."""
    global _warned_insecure
    if connection.embedded:
        from perf_tests.targets.embedded import start_embedded_server

        simulator = dict(connection.embedded_simulator)
        if connection.multi_user:  # the embedded default says no like a profile deployment, too
            from perf_tests.server import multi_user_settings

            simulator = multi_user_settings(connection.namespace, auth.bearer_token(), auth.cookie()) | simulator
        server = start_embedded_server(**simulator)
        target = KfpTarget(url=server.url, kind=EMBEDDED_KIND, connection=connection, auth=auth,
                           embedded_server=server)
    else:
        if connection.api_scheme == "https" and not connection.verify_ssl and not _warned_insecure:
            logger.warning("VERIFY_SSL is off: TLS certificates of %s are not checked", connection.api_host)
            _warned_insecure = True
        target = KfpTarget(url=connection.url, kind=CLUSTER_KIND, connection=connection, auth=auth)
    try:
        health = check_kfp_health(target, timeout=timeout)
    except TargetError:
        target.stop()
        raise
    target.multi_user = health.get("multi_user")
    version = health.get("commit_sha") or health.get("tag_name") or health.get("version")
    target.version = str(version) if version else ("embedded" if target.kind == EMBEDDED_KIND else None)
    return target


def check_kfp_health(target: KfpTarget, timeout: float = 5.0) -> dict[str, Any]:
    """GET the healthz endpoint; raise ``TargetError`` saying what went wrong and what to check."""
    url = target.url.rstrip("/") + HEALTHZ_PATH
    context = target.ssl_context()
    # A total deadline, not urllib3's per-read timeout: a server trickling bytes must fail this in seconds.
    pool = DeadlinePoolManager(
        timeout,
        connect_seconds=timeout,
        cert_reqs=ssl.CERT_NONE if context is False else ssl.CERT_REQUIRED,
        ca_certs=str(target.connection.ca_bundle) if target.connection.ca_bundle else None,
    )
    hint = "check API_HOST, API_PORT, API_SCHEME (for a cluster: kubectl port-forward svc/ml-pipeline 8888:8888)"
    try:
        response = pool.request("GET", url, headers=target.http_headers(), redirect=False)
    except DeadlineExceeded:
        raise TargetError(f"KFP API at {target.url} did not answer the health check within {timeout:g}s; "
                          f"it is too slow or not the KFP API; {hint}") from None
    except urllib3.exceptions.SSLError as exc:
        raise TargetError(f"TLS error talking to {target.url}: {redact(str(exc))}; set CA_BUNDLE, "
                          "or VERIFY_SSL=false for a test cluster") from None
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise TargetError(f"KFP API at {target.url} is unreachable ({redact(str(reason))}); {hint}") from None
    finally:
        pool.clear()
    content_type = response.headers.get("Content-Type", "")
    # Redact before any cut: a secret cut in half (here or in the message) no longer matches.
    raw = response.data[: 1 << 20].decode("utf-8", "replace")
    body = redact(raw)
    if response.status in (301, 302, 303, 307, 308) or "html" in content_type or body.lstrip().startswith("<"):
        raise TargetError(
            f"{url} answered HTTP {response.status} with HTML, not the KFP API: got HTML, probably an "
            "authentication redirect (set API_TOKEN or API_COOKIE, or API_PATH_PREFIX if KFP is behind a path)"
        )
    if response.status in (401, 403):
        raise TargetError(f"{url} answered HTTP {response.status}: not authorised; set API_TOKEN, "
                          "API_TOKEN_FILE or API_COOKIE")
    if response.status != 200:
        raise TargetError(f"{url} answered HTTP {response.status}: {body[:200]}; {hint}")
    try:
        health = json.loads(raw)
    except ValueError:
        raise TargetError(f"{url} did not answer JSON, so it is probably not the KFP API; {hint}") from None
    if not isinstance(health, dict):
        raise TargetError(f"{url} answered {type(health).__name__}, not the KFP health object; {hint}")
    return health
