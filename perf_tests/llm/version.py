"""Which GuideLLM the framework supports, and a check of the installed one.

The command line (``guidellm run`` with ``kind=...`` options), the JSON report (``metadata.version`` 2)
and the start hold of ``perf_tests.llm.process.launcher`` are those of GuideLLM 0.8; another minor version may
change any of them, so it is refused with a message saying what to install.
"""

from __future__ import annotations

import re
from importlib import metadata

from perf_tests.errors import RunnerError

__all__ = [
    "INSTALL_HINT",
    "SUPPORTED_RANGE",
    "check_guidellm",
    "guidellm_problem",
    "installed_guidellm_version",
    "is_supported",
]

SUPPORTED_RANGE = ">=0.8,<0.9"
_SUPPORTED = (0, 8)
INSTALL_HINT = (
    "install the llm extra: `pip install torch==2.13.0` first (the CPU wheel; a bare `torch` pulls a "
    f"multi-GB CUDA build), then `pip install 'guidellm{SUPPORTED_RANGE}'` (or `pip install -e '.[llm]'`)"
)


def installed_guidellm_version() -> str | None:
    """The installed GuideLLM distribution's version, or None when it is not installed."""
    try:
        return metadata.version("guidellm")
    except metadata.PackageNotFoundError:
        return None


def is_supported(version: str) -> bool:
    """True for a 0.8.x version (pre-releases of 0.8 included)."""
    match = re.match(r"^\s*v?(\d+)\.(\d+)", version)
    return match is not None and (int(match.group(1)), int(match.group(2))) == _SUPPORTED


def guidellm_problem(version: str | None) -> str | None:
    """What is wrong with GuideLLM ``version`` (None: not installed), or None when it is supported."""
    if version is None:
        return f"LLM_LOAD needs GuideLLM {SUPPORTED_RANGE}, which is not installed; {INSTALL_HINT}"
    if not is_supported(version):
        return (
            f"GuideLLM {version} is installed but perf-tests supports GuideLLM {SUPPORTED_RANGE} (its `guidellm run` "
            f"command line and JSON report v2); {INSTALL_HINT}"
        )
    return None


def check_guidellm() -> str:
    """The installed GuideLLM version; ``RunnerError`` saying what to install when missing or unsupported."""
    version = installed_guidellm_version()
    problem = guidellm_problem(version)
    if problem is not None or version is None:
        raise RunnerError(problem or "GuideLLM is not installed")
    return version
