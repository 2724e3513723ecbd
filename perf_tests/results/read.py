"""Reading ``summary.json`` back (``report``, ``compare``, ``--baseline``) into a ``SummaryDocument``, any
version this perf-tests reads: a malformed file is one clear error naming the file, the place and what
is wrong (types, counts that are whole and not negative, shares from 0 to 1, finite durations and
rates). Other keys are kept: consumers ignore keys they do not know.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from perf_tests.errors import ConfigurationError, echo, echo_json
from perf_tests.models.fields import expand_user
from perf_tests.recorder.operation_summary import error_message
from perf_tests.results.summary import SummaryDocument, upgrade

__all__ = ["model_problems", "problems_text", "read_summary", "summary_problems", "validate_summary_document"]

_MAX_PROBLEMS = 5


def model_problems(model: type[BaseModel], document: Any) -> list[str]:
    """Every way ``document`` does not fit ``model``, one ``place: problem (got ...)`` line each."""
    try:
        model.model_validate(document)
    except ValidationError as exc:
        problems: dict[str, str] = {}  # place -> its problem line (one line per place)
        for error in _number_errors_merged(exc.errors(include_url=False)):
            message = error_message(error)
            shown = error.get("input")
            got = "" if error["type"] == "missing" or isinstance(shown, dict | list) else f" (got {echo_json(shown)})"
            place = _place(error["loc"], document)
            problems[place] = f"{place}: {message}{got}"
        return list(problems.values())
    return []


_NUMBER_BRANCHES = ("int", "float")


def _number_errors_merged(errors: list[Any]) -> list[Any]:
    """The errors with the two of a number (``int | float``: pydantic reports each branch, at
    ``...count.int`` and ``...count.float``) merged into one at the number's place: the ``float`` one,
    whose words ("a valid number") fit both."""
    branches: dict[tuple[int | str, ...], set[int | str]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        if loc and loc[-1] in _NUMBER_BRANCHES:
            branches.setdefault(loc[:-1], set()).add(loc[-1])
    merged = []
    for error in errors:
        loc = tuple(error["loc"])
        if loc and branches.get(loc[:-1]) == set(_NUMBER_BRANCHES):
            if loc[-1] == "int":
                continue
            error = {**error, "loc": loc[:-1]}
        merged.append(error)
    return merged


def problems_text(problems: list[str]) -> str:
    """Problems for one error message: the first few, one a line, and how many more."""
    listed = problems[:_MAX_PROBLEMS]
    more = f"\n  and {len(problems) - len(listed)} more problems" if len(problems) > len(listed) else ""
    return ("\n  " if len(listed) > 1 else "") + "\n  ".join(listed) + more


def _place(loc: tuple[int | str, ...], document: Any) -> str:
    """``scenarios[0] (create-runs).operations.create_run.success_rate`` for a validation error's location."""
    parts: list[str] = []
    node = document
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str) and len(parts) == 2:
                parts.append(f" ({node['name'][:60]})")
            continue
        parts.append(("." if parts else "") + str(item)[:60])
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(document)"


def validate_summary_document(document: Any) -> tuple[SummaryDocument | None, list[str]]:
    """``document`` (a parsed summary.json of any version read) as the current model, or what stops it,
    one line each."""
    if not isinstance(document, dict):
        return None, [f"expected a JSON object with schema_version and scenarios, got {echo_json(document)}"]
    upgraded, why = upgrade(document)
    if upgraded is None:
        return None, [str(why)]
    problems = model_problems(SummaryDocument, upgraded)
    if problems:
        return None, problems
    return SummaryDocument.model_validate(upgraded), []


def summary_problems(document: Any) -> list[str]:
    """What stops ``document`` from being read as a summary, one line each (empty when it can be)."""
    return validate_summary_document(document)[1]


def read_summary(path: str | Path, role: str = "summary") -> SummaryDocument:
    """The ``summary.json`` at ``path`` (or in the results directory ``path``), checked.

    ``role`` names the file in errors (``baseline``, ``run``, ``summary``). ``FileNotFoundError`` when it
    does not exist; ``ConfigurationError`` naming the file, the place and the problem otherwise.
    """
    try:
        given = expand_user(str(path))
    except ValueError as exc:
        raise ConfigurationError(f"{role} {echo(str(path))}: {exc}") from None
    file = given
    try:
        if given.is_dir():
            file = given / "summary.json"
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ConfigurationError(f"{role} {file} is a directory without a summary.json") from None
    except OSError as exc:
        raise ConfigurationError(f"{role} {file} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{role} {file} is not UTF-8 text (byte {exc.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{role} {file} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                                 "give a run's summary.json") from None
    except (RecursionError, ValueError) as exc:
        raise ConfigurationError(f"{role} {file} cannot be read as JSON ({str(exc)[:100]})") from None
    summary, problems = validate_summary_document(document)
    if summary is None:
        raise ConfigurationError(f"{role} {file} is not a valid perf-tests summary: {problems_text(problems)}")
    return summary
