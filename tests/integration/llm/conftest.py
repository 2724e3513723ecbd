"""Fixtures for LLM_LOAD runs with a real GuideLLM against a real ``guidellm mock-server`` on loopback.

GuideLLM-needing tests are marked ``llm`` and skipped (with the reason) only when GuideLLM is not
importable. ``llm_harness`` runs scenarios through the real loader, ``RunContext`` and ``Scheduler``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_tests.llm.assets.tokenizer import default_tokenizer
from perf_tests.llm.mock_server import MockServer
from perf_tests.llm.options import MockServerOptions

GUIDELLM_MISSING = importlib.util.find_spec("guidellm") is None
SKIP_REASON = "GuideLLM is not installed (install the llm extra: torch==2.13.0 first, then guidellm>=0.8,<0.9)"
MOCK = MockServerOptions(ttft_ms=20, itl_ms=2, output_tokens=16)


@pytest.fixture(scope="session")
def guidellm() -> None:
    if GUIDELLM_MISSING:
        pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def mock_target(guidellm: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    """A real ``guidellm mock-server`` on a free loopback port for the whole session."""
    server = MockServer(MOCK, tmp_path_factory.mktemp("mock") / "mock-server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tokenizer_dir(guidellm: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The framework's built-in tokenizer, built once."""
    return default_tokenizer(tmp_path_factory.mktemp("tokenizers"))
