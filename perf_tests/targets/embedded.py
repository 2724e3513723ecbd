"""Starting the embedded KFP simulator as the default target."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from perf_tests.errors import ConfigurationError

__all__ = ["start_embedded_server"]

logger = logging.getLogger(__name__)


def start_embedded_server(**config: Any) -> Any:
    """Start the embedded KFP simulator on a free loopback port and return it (``.url``, ``.stop()``).

    ``config`` holds simulator settings (``task_seconds``, ``error_probability``, ...), e.g. from the
    ``EMBEDDED_SIMULATOR`` environment variable.
    """
    from perf_tests.server import EmbeddedKfpServer

    try:
        server = EmbeddedKfpServer(**config)
    except (ValidationError, TypeError) as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()) \
            if isinstance(exc, ValidationError) else str(exc)
        raise ConfigurationError(f"EMBEDDED_SIMULATOR is invalid: {detail}") from None
    server.start()
    logger.info("API_HOST is not set: started the embedded KFP simulator at %s (not a cluster)", server.url)
    return server
