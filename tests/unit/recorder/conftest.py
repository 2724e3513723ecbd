"""Fixtures for the recorder tests."""

import pytest


@pytest.fixture
def durations_ms() -> list[float]:
    """A skewed, known set of durations: 1..1000 ms plus a slow tail up to 60 s."""
    values = [float(ms) for ms in range(1, 1001)]
    values += [1000.0 + 59_000.0 * (i / 49) ** 3 for i in range(50)]
    return values
