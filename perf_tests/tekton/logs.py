"""Reading what a TaskRun's pod left behind: the GuideLLM report between markers, and why a step failed.

The shipped Task's last step prints the JSON report between two marker lines, gzip-compressed and
base64-encoded so that a large report stays well below the kubelet's log size limits::

    ----- BEGIN GUIDELLM REPORT benchmarks.json gzip+base64 -----
    H4sIAAAAAAAC/+1d... (76 characters a line)
    ----- END GUIDELLM REPORT -----

``json`` instead of ``gzip+base64`` means the lines are the JSON itself (for a template's own Task).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "REPORT_BEGIN",
    "REPORT_END",
    "StepFailure",
    "extract_report",
    "failed_step",
    "format_report_block",
    "step_containers",
]

REPORT_BEGIN = "----- BEGIN GUIDELLM REPORT"
REPORT_END = "----- END GUIDELLM REPORT -----"
_BEGIN_LINE = re.compile(r"^----- BEGIN GUIDELLM REPORT (?P<name>\S+) (?P<encoding>json|gzip\+base64) -----$")
_STEP_PREFIX = "step-"


def format_report_block(report: bytes, name: str = "benchmarks.json", encoding: str = "gzip+base64") -> str:
    """The marker block the Task prints for ``report`` (what ``extract_report`` reads back)."""
    if encoding == "json":
        body = report.decode("utf-8")
    else:
        encoded = base64.b64encode(gzip.compress(report, mtime=0)).decode("ascii")
        body = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    return f"{REPORT_BEGIN} {name} {encoding} -----\n{body}\n{REPORT_END}\n"


def extract_report(log: str) -> tuple[str, bytes] | None:
    """(file name, report bytes) of the last complete report block in ``log``; None when there is none.

    A block that does not decode (a log cut short) counts as none.
    """
    lines = log.splitlines()
    found: tuple[str, bytes] | None = None
    index = 0
    while index < len(lines):
        match = _BEGIN_LINE.match(lines[index].strip())
        if match is None:
            index += 1
            continue
        try:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == REPORT_END)
        except StopIteration:
            break
        body = lines[index + 1 : end]
        decoded = _decode(body, match.group("encoding"))
        if decoded is not None:
            found = (match.group("name"), decoded)
        index = end + 1
    return found


def _decode(body: Sequence[str], encoding: str) -> bytes | None:
    if encoding == "json":
        return "\n".join(body).encode("utf-8")
    try:
        return gzip.decompress(base64.b64decode("".join(line.strip() for line in body), validate=True))
    except (binascii.Error, OSError, EOFError, ValueError, zlib.error):
        return None


def step_containers(pod: Mapping[str, Any]) -> list[str]:
    """The pod's step containers (``step-<name>``) in the order the steps run."""
    containers = (pod.get("spec") or {}).get("containers") or []
    return [
        str(c.get("name"))
        for c in containers
        if isinstance(c, dict) and str(c.get("name", "")).startswith(_STEP_PREFIX)
    ]


@dataclass(frozen=True)
class StepFailure:
    """The first step of a pod that did not end well."""

    pod: str
    container: str
    reason: str
    exit_code: int | None
    message: str

    @property
    def step(self) -> str:
        """The step's name in the Task (the container name without ``step-``)."""
        return self.container.removeprefix(_STEP_PREFIX)

    def describe(self) -> str:
        parts = [f"step {self.step!r}"]
        if self.reason:
            parts.append(self.reason)
        if self.exit_code is not None:
            parts.append(f"exit code {self.exit_code}")
        text = " ".join(parts[:1]) + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")
        if self.message:
            text += f" ({self.message})"
        return text


def failed_step(pod: Mapping[str, Any]) -> StepFailure | None:
    """The first step (in step order) that terminated with a non-zero exit code, or is stuck waiting
    (image pull errors and the like); None when every step is fine."""
    name = str((pod.get("metadata") or {}).get("name", ""))
    statuses = {
        str(s.get("name")): s for s in (pod.get("status") or {}).get("containerStatuses") or [] if isinstance(s, dict)
    }
    for container in step_containers(pod) or sorted(statuses):
        state = (statuses.get(container) or {}).get("state") or {}
        terminated = state.get("terminated")
        if isinstance(terminated, dict) and terminated.get("exitCode") not in (0, None):
            return StepFailure(
                name,
                container,
                str(terminated.get("reason") or ""),
                int(terminated["exitCode"]),
                _message(terminated.get("message")),
            )
        waiting = state.get("waiting")
        if isinstance(waiting, dict) and waiting.get("reason") not in (
            None,
            "",
            "PodInitializing",
            "ContainerCreating",
        ):
            return StepFailure(name, container, str(waiting.get("reason")), None, _message(waiting.get("message")))
    return None


def _message(value: object) -> str:
    # Tekton writes the step's results as JSON into the termination message: not for people.
    text = str(value or "").strip()
    if text.startswith("[{") or len(text) > 300:
        return ""
    return text
