"""The stack under test as part of a scenario: deploy a model server, wait until ready, load it, record, tear down.

An LLM_LOAD entry's ``stack`` block (``StackOptions``) names the server: ``local-vllm`` (the vLLM CPU
server of ``make vllm-env`` on a free loopback port, ``LocalVllmStack``) or ``kubernetes`` (Deployment,
Service and optionally InferencePool/HTTPRoute, ``KubernetesStack``). The runner deploys it at the
entry's start, points the load at it, tears it down after the entry (also on failure and Ctrl-C) and
records what was deployed (``StackRecord``) in summary.json, ``stack.json`` and the universal report.
``python -m perf_tests stack up|down`` runs the same code from a Tekton Task.

``LocalVllmStack``/``VllmServer`` live in ``perf_tests.stack.local_vllm`` and ``build_stack`` in
``perf_tests.stack.factory``; they use the LLM package, which imports this one's options, so they are not
re-exported here.
"""

from __future__ import annotations

from perf_tests.stack.kube_client import PERMISSIONS, StackKubeClient, StackSettings
from perf_tests.stack.kubernetes import KubernetesStack
from perf_tests.stack.options import STACK_KINDS, NamespaceOptions, StackOptions
from perf_tests.stack.record import StackRecord, universal_stack
from perf_tests.stack.sequence import stack_sequence
from perf_tests.stack.stack import Stack

__all__ = [
    "PERMISSIONS",
    "STACK_KINDS",
    "KubernetesStack",
    "NamespaceOptions",
    "Stack",
    "StackKubeClient",
    "StackOptions",
    "StackRecord",
    "StackSettings",
    "stack_sequence",
    "universal_stack",
]

