"""An LLM_LOAD entry's results: GuideLLM's JSON report read, merged, recorded and published.

- ``parsing``: one GuideLLM JSON report -> ``GuidellmReport`` (no GuideLLM import needed).
- ``merging``: the reports of one entry -> ``MergedLlmResults``, the framework's metrics.
- ``recording``: metrics and per-request replay into the recorder; where an entry's files go.
- ``live``: requests recorded as GuideLLM finishes them, so a stopped run keeps what it measured.
- ``universal_report``: the llm-d benchmark report v0.2.1 (schema bundled in ``schemas/``).
"""

from perf_tests.llm.results.merging import MergedLlmResults, summarize
from perf_tests.llm.results.parsing import (
    Distribution,
    GuidellmBenchmark,
    GuidellmReport,
    GuidellmWarning,
    RequestRecord,
    load_report,
    parse_report,
)
from perf_tests.llm.results.recording import entry_results_dir, record_results, safe_name, warning_notes
from perf_tests.llm.results.universal_report import (
    build_universal_report,
    universal_report_schema,
    validate_universal_report,
    write_universal_report,
)

__all__ = [
    "Distribution",
    "GuidellmBenchmark",
    "GuidellmReport",
    "GuidellmWarning",
    "MergedLlmResults",
    "RequestRecord",
    "build_universal_report",
    "entry_results_dir",
    "load_report",
    "parse_report",
    "record_results",
    "safe_name",
    "summarize",
    "universal_report_schema",
    "validate_universal_report",
    "warning_notes",
    "write_universal_report",
]
