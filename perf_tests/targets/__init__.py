"""Targets: the KFP API a run drives (a cluster or the embedded simulator), how to build clients, and the
total deadline every blocking HTTP call runs under."""

from perf_tests.targets.deadline import (
    Deadline,
    DeadlineExceeded,
    DeadlinePoolManager,
    cancel_open_deadlines,
    current_deadline,
    install_deadline_pools,
)
from perf_tests.targets.kfp_client import build_kfp_client, silence_kfp_prints
from perf_tests.targets.kfp_target import EMBEDDED_KIND, KfpTarget, check_kfp_health, resolve_kfp_target

__all__ = [
    "EMBEDDED_KIND",
    "Deadline",
    "DeadlineExceeded",
    "DeadlinePoolManager",
    "KfpTarget",
    "build_kfp_client",
    "cancel_open_deadlines",
    "check_kfp_health",
    "current_deadline",
    "install_deadline_pools",
    "resolve_kfp_target",
    "silence_kfp_prints",
]
