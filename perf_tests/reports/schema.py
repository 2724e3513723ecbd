"""The JSON Schema of ``summary.json`` (``schemas/summary.schema.json``, shipped with the package).

``python -m perf_tests summary-schema`` prints it; ``--check FILE`` validates summaries against it
(that needs the ``jsonschema`` package, part of the ``dev`` extra).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from perf_tests.errors import ConfigurationError

__all__ = ["summary_json_schema", "validate_summary"]


def summary_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``summary.json``."""
    text = resources.files("perf_tests.reports").joinpath("schemas", "summary.schema.json").read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_summary(summary: Mapping[str, Any]) -> list[str]:
    """Every way ``summary`` breaks the schema, as ``path: problem`` lines (empty when it is valid)."""
    try:
        # Imported by name: jsonschema is an optional (dev) dependency without type stubs here.
        jsonschema = importlib.import_module("jsonschema")
    except ImportError:
        raise ConfigurationError(
            "validating a summary needs the jsonschema package: pip install 'perf-tests[dev]' or jsonschema"
        ) from None
    validator = jsonschema.Draft202012Validator(summary_json_schema())
    problems = []
    for error in sorted(validator.iter_errors(summary), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(part) for part in error.absolute_path) or "(document)"
        problems.append(f"{where}: {error.message}")
    return problems
