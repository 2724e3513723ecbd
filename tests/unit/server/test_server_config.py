"""SimulatorConfig validation and RFC 3339 timestamps."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from perf_tests.server.config import SimulatorConfig
from perf_tests.server.timestamps import EPOCH, format_ts, parse_ts


def test_defaults_inject_nothing() -> None:
    config = SimulatorConfig()
    assert not config.has_api_faults
    assert config.run_failure_probability == 0
    assert config.seed is None


def test_merged_validates_and_keeps_the_rest() -> None:
    config = SimulatorConfig(task_seconds=2).merged(latency_ms=5)
    assert (config.task_seconds, config.latency_ms) == (2, 5)
    assert config.has_api_faults
    with pytest.raises(ValidationError, match="Extra inputs"):
        config.merged(bogus=1)
    with pytest.raises(ValidationError, match="mutually exclusive"):
        config.merged(error_probability=0.5, hang_probability=0.6)
    with pytest.raises(ValidationError):
        config.merged(error_status=404)
    with pytest.raises(ValidationError):
        config.merged(task_seconds=-1)


def test_config_is_immutable() -> None:
    with pytest.raises(ValidationError):
        SimulatorConfig().task_seconds = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, EPOCH),
        (1714564800.0, "2024-05-01T12:00:00Z"),
        (1714564800.25, "2024-05-01T12:00:00.250Z"),
        (1714564800.9996, "2024-05-01T12:00:01Z"),
    ],
)
def test_format_ts(seconds: float, text: str) -> None:
    assert format_ts(seconds) == text


def test_parse_ts_accepts_offsets_and_fractions() -> None:
    assert parse_ts("2024-05-01T12:00:00Z") == 1714564800.0
    assert parse_ts("2024-05-01T14:00:00+02:00") == 1714564800.0
    assert parse_ts("2024-05-01T12:00:00.123456789Z") == pytest.approx(1714564800.123456)
    assert parse_ts("2024-05-01T12:00:00") == 1714564800.0
    with pytest.raises(ValueError, match="noon"):
        parse_ts("noon")
