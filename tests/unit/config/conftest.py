"""Fixtures for the configuration tests: an environment without any of the framework's variables."""

import os
import re

import pytest

import perf_tests.config.settings as settings_module

# Every variable the settings module documents (its docstring lists them all, in ``NAME`` form).
DOCUMENTED = sorted(set(re.findall(r"``([A-Z][A-Z0-9_]+)``", settings_module.__doc__ or "")))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the framework's variables (in any letter case: the settings are case-insensitive)."""
    names = set(DOCUMENTED)
    for key in list(os.environ):
        if key.upper() in names:
            monkeypatch.delenv(key)
