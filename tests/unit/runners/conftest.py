"""Fixtures for the runner tests: the TEST_SLEEPY mode registered for one test, and a run context on a
fake clock (``fake_time`` moves it)."""

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from perf_tests.config.settings import Settings
from perf_tests.recorder import EventHook, Recorder
from perf_tests.runners.context import RunContext
from perf_tests.runners.registry import register, unregister
from perf_tests.scheduler import Clock, FakeTime

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def sleepy() -> Iterator[ModuleType]:
    """The ``sleepy_mode`` module with TEST_SLEEPY registered; unregistered afterwards.

    Imported here rather than at the top of a test module so the mode is registered only while a test
    that asks for it runs (the registry is process-wide).
    """
    module = importlib.import_module("sleepy_mode")
    register(module.SleepyRunner)  # again, after an earlier test unregistered it
    yield module
    unregister(module.MODE)


@pytest.fixture
def data_dir() -> Path:
    return REPO / "test_data"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def context(tmp_path: Path, recorder: Recorder, data_dir: Path, fake_time: FakeTime) -> RunContext:
    """A run context on the fake clock whose events feed ``recorder``."""
    hook = EventHook()
    hook.add_listener(recorder)
    return RunContext(
        run_id="test-run",
        settings=Settings(),
        events=hook,
        clock=Clock(fake_time),
        results_dir=tmp_path / "results",
        data_dir=data_dir,
    )
