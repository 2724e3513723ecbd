"""Reading a GuideLLM log (a local process's output or a pod's log): progress, start hold, failure.

When GuideLLM fails it prints a Python traceback or a click usage error; ``failure_reason`` reduces that
to the one line a user can act on (``OSError: Can't load tokenizer ...``, ``Error: Invalid value for
'--profile' ...``), so the framework never shows GuideLLM's traceback as its own error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perf_tests.llm.process.startup import MARK

__all__ = ["HoldReport", "failure_reason", "hold_report", "progress_line"]

_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): (.+)$", re.MULTILINE)
_LOGURU_ERROR = re.compile(r"^[\d\- :]+\|(?:ERROR|CRITICAL)\s*\|\S+ - (.+)$", re.MULTILINE)
_STEP = re.compile(r"^\u2714 (.+)$", re.MULTILINE)  # GuideLLM's "✔ Tokenizer resolved, ..." setup steps
_PROGRESS = re.compile(r"guidellm\.benchmark\.progress:\S* - (Benchmark .+)$", re.MULTILINE)
_HOLD = re.compile(
    rf"^{re.escape(MARK)} ready at ([\d.]+); (holding until ([\d.]+)|starting at ([\d.]+), ([\d.]+)s late)",
    re.MULTILINE,
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _clean(text: str) -> str:
    return _ANSI.sub("", text)


def failure_reason(log_text: str, limit: int = 400) -> str:
    """The line that says why GuideLLM failed ('' when the log says nothing useful)."""
    text = _clean(log_text)
    lines = text.splitlines()
    for line in reversed(lines):  # the launcher's own verdict comes first
        if line.startswith(f"{MARK} error: "):
            return _short(line.removeprefix(f"{MARK} error: ").strip(), limit)
    for index in range(len(lines) - 1, -1, -1):  # click: "Error: ..." plus indented detail lines
        if lines[index].startswith("Error: "):
            detail = [lines[index].strip()]
            detail += [line.strip() for line in lines[index + 1:index + 6] if line.startswith(" ")]
            return _short(" ".join(part for part in detail if part), limit)
    matches = _EXCEPTION_LINE.findall(text)
    if matches:
        name, message = matches[-1]
        steps = _STEP.findall(text)
        after = f" (after GuideLLM's step '{_short(steps[-1].strip(), 80)}')" if steps else ""
        return _short(f"{name.rsplit('.', 1)[-1]}: {message.strip()}{after}", limit)
    logged = _LOGURU_ERROR.findall(text)
    if logged:
        return _short(logged[-1].strip(), limit)
    for line in reversed(lines):
        if line.strip() and not line.strip().startswith(("^", "~", "File ")):
            return _short(line.strip(), limit)
    return ""


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def progress_line(log_text: str) -> str | None:
    """GuideLLM's latest progress update (``Benchmark 1 (constant@5.00): ... requests/s=...``)."""
    matches = _PROGRESS.findall(_clean(log_text))
    return matches[-1].strip() if matches else None


@dataclass(frozen=True)
class HoldReport:
    """What the launcher said about the start hold: when GuideLLM was ready and how early or late."""

    ready_at: float
    early: float  # seconds it held before the start (0 when late)
    late: float  # seconds its start was after the planned start (0 when held)


def hold_report(log_text: str) -> HoldReport | None:
    """The launcher's hold line, if GuideLLM got that far."""
    match = _HOLD.search(_clean(log_text))
    if match is None:
        return None
    ready = float(match.group(1))
    if match.group(3) is not None:
        return HoldReport(ready, max(0.0, float(match.group(3)) - ready), 0.0)
    return HoldReport(ready, 0.0, float(match.group(5)))
