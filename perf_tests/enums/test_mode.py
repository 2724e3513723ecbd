"""Names of the built-in test modes and of operation outcomes."""

from __future__ import annotations

from enum import StrEnum


class TestMode(StrEnum):
    """Built-in scenario modes; third-party runners may register more names."""

    __test__ = False  # not a pytest test class despite its name

    PIPELINE_RUN = "PIPELINE_RUN"
    EXPERIMENT = "EXPERIMENT"
    PIPELINE_UPLOAD = "PIPELINE_UPLOAD"
    PIPELINE_SCHEDULED_RUN = "PIPELINE_SCHEDULED_RUN"
    RANDOM_GETS = "RANDOM_GETS"
    LLM_LOAD = "LLM_LOAD"


class Outcome(StrEnum):
    """How a scenario entry ended."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the entry could not run at all
    NOT_RUN = "not_run"
