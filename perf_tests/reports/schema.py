"""The JSON Schema of ``summary.json``, generated from its models (``perf_tests.results.SummaryDocument``).

``python -m perf_tests summary-schema`` prints it; the published copy, ``schemas/summary.schema.json``
(shipped with the package), is regenerated with ``python -m perf_tests summary-schema -o
perf_tests/reports/schemas/summary.schema.json`` and a test keeps it equal. ``--check FILE`` validates
summaries against it (that needs the ``jsonschema`` package, part of the ``dev`` extra).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perf_tests.errors import ConfigurationError
from perf_tests.results.summary import SummaryDocument

__all__ = ["SUMMARY_SCHEMA_FILE", "summary_json_schema", "validate_summary"]

SUMMARY_SCHEMA_FILE = Path(__file__).parent / "schemas" / "summary.schema.json"
"""The published schema."""


def summary_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``summary.json``."""
    schema = SummaryDocument.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://perf-tests.invalid/schemas/summary.schema.json",
        "title": "perf-tests summary.json",
        "description": f"{schema.get('description', '')} Consumers must ignore keys they do not know: new "
        "optional keys are added without a new schema_version; removing or changing a key changes it.",
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }


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
