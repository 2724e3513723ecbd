"""Building a real ``kfp.Client`` from settings: auth, TLS, a request timeout and no hidden retries.

kfp's client has no request timeout and urllib3 retries idempotent and non-idempotent calls alike by
default; both are wrong for a perf test (a hung target must cost a recorded timeout, and a create must
never be sent twice). ``build_kfp_client`` swaps the client's connection pool for one that applies the
configured timeout to every call and never retries.
"""

from __future__ import annotations

import logging
import ssl
import warnings
from typing import Any

import urllib3

from perf_tests.config.settings import AuthSettings, ConnectionSettings

__all__ = ["build_kfp_client", "silence_kfp_prints"]

logger = logging.getLogger(__name__)


class _TimeoutPoolManager(urllib3.PoolManager):
    """A pool manager that applies a default timeout when the caller passes none."""

    def __init__(self, default_timeout: urllib3.Timeout, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._default_timeout = default_timeout

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> Any:  # type: ignore[override]
        if kw.get("timeout") is None:
            kw["timeout"] = self._default_timeout
        return super().urlopen(method, url, redirect=redirect, **kw)


def build_kfp_client(
    url: str,
    connection: ConnectionSettings,
    auth: AuthSettings,
    pool_size: int = 16,
) -> Any:
    """A ``kfp.Client`` for ``url`` with the settings' token, cookie, TLS options and timeout."""
    import kfp

    silence_kfp_prints()
    token = auth.bearer_token()
    with warnings.catch_warnings():
        # kfp warns on every construction that it needs KFP >= 2.0.0-beta.2; we target v2beta1 only.
        warnings.simplefilter("ignore", FutureWarning)
        client = kfp.Client(
            host=url,
            namespace=connection.namespace if connection.multi_user else "kubeflow",
            existing_token=token,
            cookies=auth.cookie(),
            ssl_ca_cert=str(connection.ca_bundle) if connection.ca_bundle else None,
            verify_ssl=connection.verify_ssl,
        )
    api_client = client._run_api.api_client
    config = api_client.configuration
    timeout = urllib3.Timeout(connect=min(10.0, connection.request_timeout), read=connection.request_timeout)
    pool_args: dict[str, Any] = {
        "num_pools": 4,
        "maxsize": pool_size,
        "cert_reqs": ssl.CERT_REQUIRED if config.verify_ssl else ssl.CERT_NONE,
        "retries": False,
    }
    if config.ssl_ca_cert:
        pool_args["ca_certs"] = config.ssl_ca_cert
    else:
        import certifi

        pool_args["ca_certs"] = certifi.where()
    old = api_client.rest_client.pool_manager
    api_client.rest_client.pool_manager = _TimeoutPoolManager(timeout, **pool_args)
    old.clear()
    return client


def silence_kfp_prints() -> None:
    """Send kfp's "Run details: <link>" prints to the debug log instead of stdout (thread-safe).

    kfp's client module calls the builtin ``print``; a module-level ``print`` in that module shadows it.
    """
    import kfp.client.client as kfp_client_module

    def _print_to_debug_log(*args: Any, **_: Any) -> None:
        logger.debug("kfp: %s", " ".join(str(arg) for arg in args))

    kfp_client_module.print = _print_to_debug_log
