"""Building the load generator's ``tekton.dev/v1`` PipelineRun, and reading its status.

``build_pipelinerun`` makes an inline ``pipelineSpec`` with one task whose ``taskRef`` goes through the
cluster resolver (``kind``/``name``/``namespace`` params) to the shared ``guidellm-load-generator`` Task,
a ``results`` workspace (``emptyDir`` or a ``volumeClaimTemplate``), labels naming the test run and the
scenario entry, and ``timeouts.pipeline``. ``apply_template`` does the same to a user's PipelineRun
YAML: it sets the values of the params the template declares and adds the labels. ``build_secret`` makes
the per-entry Secret that carries what must not be a param (an API key, header values): a PipelineRun's
params are readable by anyone who may read PipelineRuns, so the Task reads these through
``env.valueFrom.secretKeyRef`` of the Secret named by its ``credentials-secret`` param. The status helpers
read the ``Succeeded`` condition, the run's results and its timestamps.
"""

from __future__ import annotations

import base64
import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from perf_tests.errors import ConfigurationError
from perf_tests.tekton.client import TEKTON_API_VERSION

__all__ = [
    "CREDENTIALS_PARAM",
    "LABEL_INSTANCE",
    "LABEL_MANAGED_BY",
    "LABEL_RUN_ID",
    "LABEL_SCENARIO",
    "MANAGED_BY",
    "PIPELINE_TASK",
    "TASK_RESULTS",
    "SucceededCondition",
    "TaskLocation",
    "Workspace",
    "apply_template",
    "build_pipelinerun",
    "build_secret",
    "declared_params",
    "format_duration",
    "label_value",
    "outcome",
    "parse_time",
    "pipelinerun_results",
    "run_labels",
]

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_RUN_ID = "perf-tests.io/run-id"
LABEL_SCENARIO = "perf-tests.io/scenario"
LABEL_INSTANCE = "perf-tests.io/instance"
MANAGED_BY = "perf-tests"
PIPELINE_TASK = "load"  # the pipeline task's name; TaskRun pods carry tekton.dev/pipelineTask=load
# Results of the Task, surfaced as the PipelineRun's results.
TASK_RESULTS = ("benchmark-report", "log-file", "start-time", "end-time")
CREDENTIALS_PARAM = "credentials-secret"
"""The Task param naming the Secret its steps read secret values from (``env.valueFrom.secretKeyRef``)."""
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 63


@dataclass(frozen=True)
class TaskLocation:
    """Where the cluster resolver finds the Task."""

    name: str
    namespace: str


@dataclass(frozen=True)
class Workspace:
    """The ``results`` workspace: an ``emptyDir`` or a volume claim per run."""

    kind: str = "emptyDir"  # or "volumeClaimTemplate"
    storage_class: str = ""
    storage_size: str = "1Gi"

    def binding(self) -> dict[str, Any]:
        """The PipelineRun's workspace binding named ``results``."""
        if self.kind == "emptyDir":
            return {"name": "results", "emptyDir": {}}
        spec: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": self.storage_size}},
        }
        if self.storage_class:
            spec["storageClassName"] = self.storage_class
        return {"name": "results", "volumeClaimTemplate": {"spec": spec}}


def label_value(text: str) -> str:
    """``text`` as a valid label value: at most 63 of ``[A-Za-z0-9._-]``, alphanumeric at both ends."""
    return _LABEL_VALUE.sub("-", text)[:_MAX_NAME].strip("-._")


def run_labels(run_id: str, scenario: str, instance: int | None = None) -> dict[str, str]:
    """Labels naming the test run, the scenario entry and (for a stair-step copy) the instance."""
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_RUN_ID: label_value(run_id) or "run",
        LABEL_SCENARIO: label_value(scenario) or "entry",
    }
    if instance is not None:
        labels[LABEL_INSTANCE] = str(instance)
    return labels


def _generate_name(scenario: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", scenario.lower()).strip("-")[:40].strip("-") or "load"
    return f"perf-{base}-"


def format_duration(seconds: float) -> str:
    """Seconds as a Go duration string for ``timeouts.pipeline`` (``1h2m3s``; rounded up)."""
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


def build_pipelinerun(
    params: Mapping[str, str],
    *,
    task: TaskLocation,
    labels: Mapping[str, str],
    timeout: float,
    workspace: Workspace | None = None,
    service_account: str = "",
    scenario: str = "load",
) -> dict[str, Any]:
    """A PipelineRun running the Task once with ``params`` (all string values)."""
    names = list(params)
    pipeline_spec: dict[str, Any] = {
        "params": [{"name": name, "type": "string"} for name in names],
        "workspaces": [{"name": "results"}],
        "results": [{"name": result, "value": f"$(tasks.{PIPELINE_TASK}.results.{result})"} for result in TASK_RESULTS],
        "tasks": [
            {
                "name": PIPELINE_TASK,
                "taskRef": {
                    "resolver": "cluster",
                    "params": [
                        {"name": "kind", "value": "task"},
                        {"name": "name", "value": task.name},
                        {"name": "namespace", "value": task.namespace},
                    ],
                },
                "params": [{"name": name, "value": f"$(params.{name})"} for name in names],
                "workspaces": [{"name": "results", "workspace": "results"}],
            }
        ],
    }
    spec: dict[str, Any] = {
        "pipelineSpec": pipeline_spec,
        "params": [{"name": name, "value": str(value)} for name, value in params.items()],
        "workspaces": [(workspace or Workspace()).binding()],
        "timeouts": {"pipeline": format_duration(timeout)},
    }
    if service_account:
        spec["taskRunTemplate"] = {"serviceAccountName": service_account}
    return {
        "apiVersion": TEKTON_API_VERSION,
        "kind": "PipelineRun",
        "metadata": {"generateName": _generate_name(scenario), "labels": dict(labels)},
        "spec": spec,
    }


def build_secret(data: Mapping[str, str], *, labels: Mapping[str, str], scenario: str = "load") -> dict[str, Any]:
    """An ``Opaque`` Secret holding ``data`` (the Task's secret keys), labelled like the entry's PipelineRuns."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"generateName": _generate_name(scenario), "labels": dict(labels)},
        "data": {key: base64.b64encode(value.encode("utf-8")).decode("ascii") for key, value in data.items()},
    }


def declared_params(template: Mapping[str, Any]) -> set[str]:
    """Names of the params a PipelineRun template declares (``spec.params`` and ``spec.pipelineSpec.params``)."""
    spec = template.get("spec") or {}
    declared = {str(item.get("name")) for item in spec.get("params") or [] if isinstance(item, dict)}
    pipeline_spec = spec.get("pipelineSpec")
    if isinstance(pipeline_spec, dict):
        declared |= {str(item.get("name")) for item in pipeline_spec.get("params") or [] if isinstance(item, dict)}
    return declared


def apply_template(
    template: Mapping[str, Any],
    params: Mapping[str, str],
    *,
    labels: Mapping[str, str],
    timeout: float | None = None,
    scenario: str = "load",
) -> dict[str, Any]:
    """A user's PipelineRun with the values of the params it declares set from ``params``.

    A param counts as declared when it is listed in ``spec.params`` or in the inline
    ``spec.pipelineSpec.params``. The labels are added, a ``generateName`` replaces a fixed name (each run
    needs a new PipelineRun) and, when the template sets no timeout, ``timeout`` is used.
    """
    body = copy.deepcopy(dict(template))
    if body.get("kind") != "PipelineRun" or not str(body.get("apiVersion", "")).startswith("tekton.dev/"):
        raise ConfigurationError(
            f"pipelineRunTemplate must be a tekton.dev PipelineRun, got kind {body.get('kind')!r} "
            f"apiVersion {body.get('apiVersion')!r}"
        )
    if body.get("apiVersion") != TEKTON_API_VERSION:
        raise ConfigurationError(
            f"pipelineRunTemplate must use apiVersion {TEKTON_API_VERSION} "
            f"(got {body.get('apiVersion')}); convert it with `tkn` or by hand"
        )
    metadata = body.setdefault("metadata", {})
    name = metadata.pop("name", None)
    metadata.pop("namespace", None)  # the run namespace is TEKTON_NAMESPACE
    metadata.pop("resourceVersion", None)
    metadata.setdefault("generateName", f"{name}-" if name else _generate_name(scenario))
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    spec = body.setdefault("spec", {})
    given = spec.get("params") or []
    declared = declared_params(body)
    values = {name: str(value) for name, value in params.items() if name in declared}
    new_params = [item for item in given if not (isinstance(item, dict) and item.get("name") in values)]
    new_params += [{"name": name, "value": value} for name, value in values.items()]
    spec["params"] = new_params
    if timeout is not None and not spec.get("timeouts"):
        spec["timeouts"] = {"pipeline": format_duration(timeout)}
    return body


# -- status ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SucceededCondition:
    """The ``Succeeded`` condition: ``status`` True, False or Unknown, with its reason and message."""

    status: str
    reason: str
    message: str

    @property
    def done(self) -> bool:
        return self.status in {"True", "False"}

    @property
    def succeeded(self) -> bool:
        return self.status == "True"


def outcome(pipelinerun: Mapping[str, Any]) -> SucceededCondition:
    """The PipelineRun's ``Succeeded`` condition (Unknown/Pending before the controller set one)."""
    status = pipelinerun.get("status") or {}
    for condition in status.get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Succeeded":
            return SucceededCondition(
                str(condition.get("status", "Unknown")),
                str(condition.get("reason", "")),
                str(condition.get("message", "")),
            )
    return SucceededCondition("Unknown", "Pending", "")


def pipelinerun_results(pipelinerun: Mapping[str, Any]) -> dict[str, str]:
    """The PipelineRun's results by name (string values)."""
    results: dict[str, str] = {}
    for item in (pipelinerun.get("status") or {}).get("results") or []:
        if isinstance(item, dict) and "name" in item:
            value = item.get("value")
            results[str(item["name"])] = value if isinstance(value, str) else str(value)
    return results


def parse_time(value: object) -> float | None:
    """An RFC 3339 timestamp (``2024-05-01T12:00:00Z``) as epoch seconds; None when absent or invalid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
