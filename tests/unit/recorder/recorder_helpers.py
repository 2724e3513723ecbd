"""Helpers for the recorder tests (a module of its own: test modules must not import conftest)."""

import math
from collections.abc import Sequence

RESOLUTION = 0.001  # HdrHistogram with three significant digits: values within 0.1%


def exact_percentile(values: Sequence[float], percentile: float) -> float:
    """Nearest-rank percentile, the definition HdrHistogram approximates."""
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100.0 * len(ordered)))
    return ordered[rank - 1]
