"""Building a real ``kfp.Client`` from settings: auth, TLS, a total deadline per call and no hidden retries.

kfp's client has no request timeout and urllib3 retries idempotent and non-idempotent calls alike by
default; both are wrong for a perf test (a hung or trickling target must cost a recorded timeout, and a
create must never be sent twice). ``build_kfp_client`` swaps the client's connection pool for a
``DeadlinePoolManager``: every call ends within ``REQUEST_TIMEOUT`` seconds in total (not per read) and
is sent exactly once.
"""

from __future__ import annotations

import functools
import logging
import ssl
import warnings
from types import SimpleNamespace
from typing import Any

from perf_tests.config.settings import AuthSettings, ConnectionSettings
from perf_tests.targets.deadline import DeadlinePoolManager

__all__ = ["build_kfp_client", "silence_kfp_prints"]

logger = logging.getLogger(__name__)


def build_kfp_client(
    url: str,
    connection: ConnectionSettings,
    auth: AuthSettings,
    pool_size: int = 16,
) -> Any:
    """A ``kfp.Client`` for ``url`` with the settings' token, cookie, TLS options and timeout."""
    silence_kfp_prints()
    token = auth.bearer_token()
    with warnings.catch_warnings():
        # kfp warns on every construction that it needs KFP >= 2.0.0-beta.2; we target v2beta1 only.
        warnings.simplefilter("ignore", FutureWarning)
        client = _client_class()(
            host=url,
            namespace=connection.namespace if connection.multi_user else "kubeflow",
            existing_token=token,
            cookies=auth.cookie(),
            ssl_ca_cert=str(connection.ca_bundle) if connection.ca_bundle else None,
            verify_ssl=connection.verify_ssl,
        )
    api_client = client._run_api.api_client
    config = api_client.configuration
    pool_args: dict[str, Any] = {
        "num_pools": 4,
        "maxsize": pool_size,
        "cert_reqs": ssl.CERT_REQUIRED if config.verify_ssl else ssl.CERT_NONE,
    }
    if config.ssl_ca_cert:
        pool_args["ca_certs"] = config.ssl_ca_cert
    else:
        import certifi

        pool_args["ca_certs"] = certifi.where()
    old = api_client.rest_client.pool_manager
    api_client.rest_client.pool_manager = DeadlinePoolManager(
        connection.request_timeout, connect_seconds=min(10.0, connection.request_timeout),
        setting="REQUEST_TIMEOUT", **pool_args,
    )
    old.clear()
    client._perf_ready = True
    return client


@functools.cache
def _client_class() -> type[Any]:
    """``kfp.Client`` without the hidden retries of its health call (made once, when first needed)."""
    import kfp

    class PerfKfpClient(kfp.Client):  # type: ignore[misc]  # kfp is untyped
        """kfp's ``get_kfp_healthz`` tries 5 times, 5 s apart; during construction it would do so through
        kfp's own pool, which has no deadline and retries each attempt. The target's health was checked
        already (``check_kfp_health``), so construction skips the call and later calls are made once."""

        _perf_ready = False

        def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
            if not self._perf_ready:
                return SimpleNamespace(multi_user=False)
            return self._healthz_api.healthz_service_get_healthz()

    return PerfKfpClient


def silence_kfp_prints() -> None:
    """Send kfp's "Run details: <link>" prints to the debug log instead of stdout (thread-safe).

    kfp's client module calls the builtin ``print``; a module-level ``print`` in that module shadows it.
    """
    import kfp.client.client as kfp_client_module

    def _print_to_debug_log(*args: Any, **_: Any) -> None:
        logger.debug("kfp: %s", " ".join(str(arg) for arg in args))

    kfp_client_module.print = _print_to_debug_log
