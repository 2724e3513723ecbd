"""Field types shared by the options models of every mode: the base of nested options models (finite
numbers only), file names the file system can hold, and pipeline parameters KFP can serialise.

``OptionsModel``   base of every options model (camelCase, unknown fields are errors, and ``NaN`` and
                   ``Infinity`` are never numbers: Python's JSON parser accepts them, nothing after it does).
``FileName``       a file name or path, checked before any lookup: no NUL, every part at most 255 bytes
                   (``NAME_MAX``), the whole at most 4096 bytes (``PATH_MAX``), and a ``~user`` prefix only
                   for a user that exists.
``PipelineParams`` pipeline arguments: JSON values nested at most ``MAX_PARAMS_DEPTH`` levels, finite numbers.

Every number of an options model also has an upper bound, so a typo (``1e300``) is an error naming the field
and the allowed range, not a run that fails later: durations at most 7 days (``durations.py``), rates at most
``MAX_RATE`` per second, counts at most ``MAX_COUNT``, weights at most ``MAX_WEIGHT``, seeds 64-bit.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel

from perf_tests.errors import echo

__all__ = [
    "MAX_COUNT",
    "MAX_NAME_BYTES",
    "MAX_PARAMS_DEPTH",
    "MAX_PATH_BYTES",
    "MAX_RATE",
    "MAX_SEED",
    "MAX_WEIGHT",
    "FileName",
    "OptionsModel",
    "PipelineParams",
    "check_file_name",
    "check_json_value",
    "expand_user",
]

MAX_NAME_BYTES = 255
"""Bytes of one file-name part (Linux ``NAME_MAX``; longer fails with 'File name too long')."""

MAX_PATH_BYTES = 4096
"""Bytes of a whole path (Linux ``PATH_MAX``)."""

MAX_RATE = 100_000.0
"""Requests (or polls) per second: far above what one load generator process sends."""

MAX_COUNT = 10_000_000
"""A total count of operations (``totalRuns``, ``maxRequests``, ...): ten million."""

MAX_WEIGHT = 1_000_000.0
"""A relative weight (RANDOM_GETS ``endpoints``); only ratios matter."""

MAX_SEED = 2**63 - 1
"""A random seed: a non-negative 64-bit integer."""

MAX_PARAMS_DEPTH = 32
"""Levels of nesting of a pipeline parameter value (``{"a": [1]}`` is 2). kfp serialises a run's
arguments recursively on the calling thread's stack (about 480 levels fit in Python's default recursion
limit at the top of a stack, fewer inside a run); 32 is far more than any pipeline's parameters need."""


class OptionsModel(BaseModel):
    """Base of the options models of scenario files (entries and the objects nested in them)."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        # json.loads turns NaN, Infinity and 1e400 into floats; a rate or a duration of those is never meant.
        allow_inf_nan=False,
    )


def expand_user(name: str) -> Path:
    """``Path(name)`` with a leading ``~`` or ``~user`` expanded; ``ValueError`` for a user that does not exist."""
    given = Path(name)
    if not name.startswith("~"):
        return given
    try:
        return given.expanduser()
    except RuntimeError:
        user = name[1:].split("/", 1)[0]
        who = f"user {echo(user)}" if user else "the current user"
        raise ValueError(
            f"{echo(name)} starts with '~{user}', but {who} has no home directory here; write the path out"
        ) from None


def check_file_name(name: str) -> str:
    """``name`` if the file system can hold it as a path; ``ValueError`` saying why not."""
    if "\x00" in name:
        raise ValueError("a file name cannot hold a NUL character")
    path = expand_user(name)
    if _bytes(str(path)) > MAX_PATH_BYTES:
        raise ValueError(f"the path {echo(name)} is longer than {MAX_PATH_BYTES} bytes")
    for part in path.parts:
        size = _bytes(part)
        if size > MAX_NAME_BYTES:
            raise ValueError(
                f"{echo(part)} is {size} bytes long; a file or folder name can have at most {MAX_NAME_BYTES} bytes"
            )
    return name


def _bytes(text: str) -> int:
    """Bytes of ``text`` in a file name (UTF-8; a lone surrogate counts as the 3 bytes it would take)."""
    return len(text.encode("utf-8", "surrogatepass"))


FileName = Annotated[str, AfterValidator(check_file_name)]
"""A file name or path (checked by ``check_file_name``)."""


def check_json_value(value: Any, depth: int = 1, max_depth: int = MAX_PARAMS_DEPTH) -> None:
    """``ValueError`` if ``value`` nests deeper than ``max_depth`` or holds a number JSON cannot carry."""
    if depth > max_depth and isinstance(value, dict | list):
        raise ValueError(f"nested more than {max_depth} levels deep; pipeline parameters can nest at most "
                         f"{max_depth} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number; use a finite number (or a string)")
    if isinstance(value, dict):
        for item in value.values():
            check_json_value(item, depth + 1, max_depth)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, depth + 1, max_depth)


def _params(value: dict[str, Any]) -> dict[str, Any]:
    check_json_value(value)
    return value


PipelineParams = Annotated[
    dict[str, Any],
    AfterValidator(_params),
    WithJsonSchema({
        "type": "object",
        "description": f"Pipeline arguments of every run (JSON values nested at most {MAX_PARAMS_DEPTH} levels).",
    }),
]
"""Pipeline arguments: a JSON object nested at most ``MAX_PARAMS_DEPTH`` levels, numbers finite."""
