"""Fixtures for the model tests: the repository's data folder, the registered modes, scenario files."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perf_tests.models.scenario import ScenarioEntry
from perf_tests.runners.registry import options_models

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def data_dir() -> Path:
    """The repository's ``test_data`` (with ``pipeline_files/add_numbers.yaml``)."""
    return REPO / "test_data"


@pytest.fixture
def modes() -> dict[str, type[ScenarioEntry]]:
    return options_models()


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """Write a scenario file (JSON data, or raw text/bytes as given) into tmp_path and return its path."""

    def write(content: Any, name: str = "scenario.json") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(json.dumps(content), encoding="utf-8")
        return path

    return write
