"""The supported GuideLLM version: a missing or other install is refused with what to install."""

from __future__ import annotations

import pytest

from perf_tests.llm.version import INSTALL_HINT, SUPPORTED_RANGE, guidellm_problem, is_supported


@pytest.mark.parametrize(("version", "ok"), [("0.8.1", True), ("0.8.0rc2", True), ("v0.8", True),
                                             ("0.7.3", False), ("0.9.0", False), ("1.0", False), ("dev", False)])
def test_only_0_8_is_supported(version: str, ok: bool) -> None:
    assert is_supported(version) is ok
    assert (guidellm_problem(version) is None) is ok


def test_missing_install_says_what_to_install() -> None:
    message = guidellm_problem(None)
    assert message is not None
    assert "not installed" in message and SUPPORTED_RANGE in message
    assert "torch==2.13.0" in INSTALL_HINT and INSTALL_HINT in message


def test_other_version_names_both_versions() -> None:
    message = guidellm_problem("0.7.3")
    assert message is not None
    assert "GuideLLM 0.7.3 is installed" in message and SUPPORTED_RANGE in message
