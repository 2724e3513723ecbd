"""Targets: the KFP API a run drives (a cluster or the embedded simulator) and how to build clients."""

from perf_tests.targets.kfp_client import build_kfp_client, silence_kfp_prints
from perf_tests.targets.kfp_target import EMBEDDED_KIND, KfpTarget, check_kfp_health, resolve_kfp_target

__all__ = [
    "EMBEDDED_KIND",
    "KfpTarget",
    "build_kfp_client",
    "check_kfp_health",
    "resolve_kfp_target",
    "silence_kfp_prints",
]
