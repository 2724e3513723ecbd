"""Finding inference-perf's Python >= 3.12: an explicit interpreter, PATH, pyenv; a clear message when none."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from perf_tests.llm.harnesses import python_finder


def _nothing_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PYENV_ROOT", raising=False)
    monkeypatch.delenv("PERF_PYTHON312", raising=False)


def test_no_python_312_is_a_clear_message_and_exit_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _nothing_around(monkeypatch, tmp_path)
    assert python_finder.find_python() is None
    assert python_finder.main() == 1
    assert "no Python >= 3.12 found for inference-perf" in capsys.readouterr().err


def test_an_older_interpreter_is_not_taken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _nothing_around(monkeypatch, tmp_path)
    monkeypatch.setenv("PERF_PYTHON312", sys.executable)
    expected = sys.executable if sys.version_info >= (3, 12) else None
    assert python_finder.find_python() == (Path(expected) if expected else None)


def test_pyenv_versions_are_found_oldest_satisfying_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _nothing_around(monkeypatch, tmp_path)
    for version in ("3.11.7", "3.13.0", "3.12.1"):
        (tmp_path / ".pyenv" / "versions" / version / "bin").mkdir(parents=True)
    candidates = python_finder.python_candidates()
    assert [path.parts[-3] for path in candidates] == ["3.12.1", "3.13.0"]
