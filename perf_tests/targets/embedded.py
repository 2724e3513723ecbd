"""Starting the embedded KFP simulator as the default target."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["start_embedded_server"]

logger = logging.getLogger(__name__)


def start_embedded_server(**config: Any) -> Any:
    """Start the embedded KFP simulator on a free loopback port and return it (``.url``, ``.stop()``)."""
    from perf_tests.server import EmbeddedKfpServer

    server = EmbeddedKfpServer(**config)
    server.start()
    logger.info("API_HOST is not set: started the embedded KFP simulator at %s", server.url)
    return server
