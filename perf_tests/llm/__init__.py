"""LLM serving load with GuideLLM: the LLM_LOAD entry's fields, its GuideLLM command lines, where they
run, their results and the llm-d universal report.

The data path of an entry, one module or subpackage each:

- ``options``: the entry's fields, shared by every executor (``LlmLoadFields``).
- ``plan``: which GuideLLM processes the entry needs and when (one, or stair-step layers).
- ``command``: the one place that builds a ``guidellm run`` command line (``build_command``).
- ``executors``: where the processes run (``LocalExecutor``; a Tekton executor plugs in beside it).
- ``process``: GuideLLM as a child process: the ``launcher`` (GuideLLM's CLI held until the start time)
  and its patches, ``children`` (no child left behind), ``startup`` (the hold protocol) and
  ``diagnostics`` (reading GuideLLM's logs).
- ``results``: GuideLLM's JSON report read (``parsing``) and merged into ``MergedLlmResults`` (``merging``),
  metrics and per-request replay into the recorder (``recording``, ``live``), and the llm-d benchmark
  report v0.2.1 (``universal_report``, schema bundled in ``schemas/``).
- ``assets``: the default tokenizer and the tiny model, built locally (no model hub).
- ``mock_server``, ``health``, ``version``: the embedded mock target, its health check, and the
  supported GuideLLM version.
"""

from perf_tests.llm.assets.tokenizer import build_tokenizer, default_tokenizer
from perf_tests.llm.command import OFFLINE_ENV, GuidellmCommand, build_command, launch_seed, render_option
from perf_tests.llm.executors.executor import Executor, LaunchSpec, ProcessExit
from perf_tests.llm.executors.local import LocalExecutor
from perf_tests.llm.executors.options import ExecutorOptions
from perf_tests.llm.executors.registry import EXECUTORS
from perf_tests.llm.executors.tekton import TektonExecutor
from perf_tests.llm.executors.tekton_options import TektonExecutorOptions
from perf_tests.llm.mock_server import MockServer, MockServerPool, shared_mock_servers
from perf_tests.llm.options import (
    METRIC_NAMES,
    RATE_TYPES,
    LlmLoadFields,
    LlmStage,
    MockServerOptions,
    RateType,
)
from perf_tests.llm.plan import Launch, plan_launches, stage_layers
from perf_tests.llm.process.diagnostics import HoldReport, failure_reason, hold_report, progress_line
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
from perf_tests.llm.version import SUPPORTED_RANGE, check_guidellm, guidellm_problem, installed_guidellm_version

__all__ = [
    "EXECUTORS",
    "METRIC_NAMES",
    "OFFLINE_ENV",
    "RATE_TYPES",
    "SUPPORTED_RANGE",
    "Distribution",
    "Executor",
    "ExecutorOptions",
    "GuidellmBenchmark",
    "GuidellmCommand",
    "GuidellmReport",
    "GuidellmWarning",
    "HoldReport",
    "Launch",
    "LaunchSpec",
    "LlmLoadFields",
    "LlmStage",
    "LocalExecutor",
    "MergedLlmResults",
    "MockServer",
    "MockServerOptions",
    "MockServerPool",
    "ProcessExit",
    "RateType",
    "RequestRecord",
    "TektonExecutor",
    "TektonExecutorOptions",
    "build_command",
    "build_tokenizer",
    "build_universal_report",
    "check_guidellm",
    "default_tokenizer",
    "entry_results_dir",
    "failure_reason",
    "guidellm_problem",
    "hold_report",
    "installed_guidellm_version",
    "launch_seed",
    "load_report",
    "parse_report",
    "plan_launches",
    "progress_line",
    "record_results",
    "render_option",
    "safe_name",
    "shared_mock_servers",
    "stage_layers",
    "summarize",
    "universal_report_schema",
    "validate_universal_report",
    "warning_notes",
    "write_universal_report",
]
