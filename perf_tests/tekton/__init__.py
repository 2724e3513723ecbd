"""Tekton: run the load generator as PipelineRuns of a shared Task, follow them and collect their reports.

``TektonSettings`` says how to reach the cluster and where the Task is; ``TektonClient`` makes the few
Kubernetes calls the executor needs (``PERMISSIONS`` lists them for RBAC); ``build_pipelinerun`` and
``apply_template`` make the PipelineRun; ``PipelineRunSession`` creates, follows, cancels, collects and
deletes the PipelineRuns of one scenario entry; ``TektonLoad`` drives it through a runner's lifecycle for
a list of load instances (Task params); ``extract_report`` reads the GuideLLM report the Task
prints between markers in its log. The executor itself, and its entry fields (``pipelineRunTemplate``,
``keepPipelineRuns``), are ``perf_tests.llm.executors.tekton`` and ``perf_tests.llm.executors.tekton_options``.
"""

from perf_tests.tekton.client import PERMISSIONS, Permission, TektonClient
from perf_tests.tekton.load import LoadInstance, TektonLoad
from perf_tests.tekton.logs import StepFailure, extract_report, failed_step, format_report_block
from perf_tests.tekton.pipelinerun import (
    SucceededCondition,
    TaskLocation,
    Workspace,
    apply_template,
    build_pipelinerun,
    outcome,
    run_labels,
)
from perf_tests.tekton.session import OPERATIONS, FinishedPipelineRun, PipelineRunSession
from perf_tests.tekton.settings import TektonSettings, load_tekton_settings

__all__ = [
    "OPERATIONS",
    "PERMISSIONS",
    "FinishedPipelineRun",
    "LoadInstance",
    "Permission",
    "PipelineRunSession",
    "StepFailure",
    "SucceededCondition",
    "TaskLocation",
    "TektonClient",
    "TektonLoad",
    "TektonSettings",
    "Workspace",
    "apply_template",
    "build_pipelinerun",
    "extract_report",
    "failed_step",
    "format_report_block",
    "load_tekton_settings",
    "outcome",
    "run_labels",
]
