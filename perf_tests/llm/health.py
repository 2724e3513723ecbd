"""``GET <url>/health`` of an LLM server within a total deadline (a trickling server cannot outlast it)."""

from __future__ import annotations

from perf_tests.targets.deadline import DeadlinePoolManager

__all__ = ["health_status"]


def health_status(url: str, timeout: float) -> int:
    """The HTTP status of ``<url>/health``, answered within ``timeout`` seconds in total.

    Raises urllib3's ``HTTPError`` (``DeadlineExceeded`` when the time ran out) when there is no answer.
    Redirects are not followed: a login page behind one is not a healthy LLM server.
    """
    pool = DeadlinePoolManager(timeout, connect_seconds=timeout)
    try:
        response = pool.request("GET", f"{url.rstrip('/')}/health", redirect=False, preload_content=True)
        return int(response.status)
    finally:
        pool.clear()
