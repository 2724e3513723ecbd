"""Tekton settings: how to reach the cluster and where the load generator's PipelineRuns go.

Read with pydantic-settings when asked for (never at import time). Every variable:

Cluster connection
    ``KUBECONFIG``               kubeconfig file (default ``~/.kube/config``); only the first of a
                                 ``:``-separated list is read.
    ``K8S_CONTEXT``              kubeconfig context to use (default: the file's current context).
    ``K8S_IN_CLUSTER``           ``auto`` (default: kubeconfig when one exists, else the pod's service
                                 account), ``true`` (always in-cluster) or ``false`` (always kubeconfig).
    ``TEKTON_REQUEST_TIMEOUT``   seconds for every Kubernetes API call (default 30).

Where and what to run
    ``TEKTON_NAMESPACE``         namespace of the PipelineRuns (default ``pipelines``).
    ``TEKTON_TASK_NAMESPACE``    namespace the cluster resolver reads the Task from (default ``pipelines``).
    ``TEKTON_TASK_NAME``         the load generator Task (default ``guidellm-load-generator``).
    ``TEKTON_SERVICE_ACCOUNT``   service account of the TaskRun pods (default: Tekton's default).
    ``TEKTON_IMAGE``             GuideLLM image passed as the Task's ``image`` param (default: the Task's).

Results workspace
    ``TEKTON_WORKSPACE``         ``emptyDir`` (default) or ``volumeClaimTemplate``.
    ``TEKTON_STORAGE_CLASS``     storage class of the volume claim (default: the cluster's default).
    ``TEKTON_STORAGE_SIZE``      size of the volume claim (default ``1Gi``).

Timing and cleanup
    ``TEKTON_TIMEOUT_MARGIN``    seconds the PipelineRun may take beyond the entry's runTime for queueing,
                                 image pulls and report collection (default 900).
    ``TEKTON_WATCH_TIMEOUT``     seconds one watch request stays open before it is renewed (default 60).
    ``TEKTON_POLL_INTERVAL``     seconds between status reads when watching is not possible (default 5).
    ``TEKTON_CANCEL_GRACE``      seconds to wait for a cancelled PipelineRun to finish (default 15: with the
                                 report collection it stays below the scheduler's 30 s stop grace).
    ``TEKTON_LOG_TAIL_LINES``    log lines of a failed step quoted in the error (default 20).
    ``TEKTON_KEEP_PIPELINERUNS`` keep finished PipelineRuns instead of deleting them (default false).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from perf_tests.errors import ConfigurationError

__all__ = ["TektonSettings", "load_tekton_settings"]


class TektonSettings(BaseSettings):
    """Cluster connection, Task location, workspace, timing and cleanup of the Tekton executor."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)

    kubeconfig: str = Field(default="", validation_alias="KUBECONFIG")
    context: str = Field(default="", validation_alias="K8S_CONTEXT")
    in_cluster: Literal["auto", "true", "false"] = Field(default="auto", validation_alias="K8S_IN_CLUSTER")
    request_timeout: float = Field(default=30.0, gt=0, le=86400, allow_inf_nan=False,
                                   validation_alias="TEKTON_REQUEST_TIMEOUT")

    namespace: str = Field(default="pipelines", min_length=1, validation_alias="TEKTON_NAMESPACE")
    task_namespace: str = Field(default="pipelines", min_length=1, validation_alias="TEKTON_TASK_NAMESPACE")
    task_name: str = Field(default="guidellm-load-generator", min_length=1, validation_alias="TEKTON_TASK_NAME")
    service_account: str = Field(default="", validation_alias="TEKTON_SERVICE_ACCOUNT")
    image: str = Field(default="", validation_alias="TEKTON_IMAGE")

    workspace: Literal["emptyDir", "volumeClaimTemplate"] = Field(
        default="emptyDir", validation_alias="TEKTON_WORKSPACE"
    )
    storage_class: str = Field(default="", validation_alias="TEKTON_STORAGE_CLASS")
    storage_size: str = Field(
        default="1Gi", pattern=r"^[0-9]+(\.[0-9]+)?([KMGTPE]i?)?$", validation_alias="TEKTON_STORAGE_SIZE"
    )

    timeout_margin: float = Field(default=900.0, ge=0, allow_inf_nan=False, validation_alias="TEKTON_TIMEOUT_MARGIN")
    watch_timeout: int = Field(default=60, ge=1, validation_alias="TEKTON_WATCH_TIMEOUT")
    poll_interval: float = Field(default=5.0, gt=0, allow_inf_nan=False, validation_alias="TEKTON_POLL_INTERVAL")
    cancel_grace: float = Field(default=15.0, ge=0, allow_inf_nan=False, validation_alias="TEKTON_CANCEL_GRACE")
    log_tail_lines: int = Field(default=20, ge=0, le=1000, validation_alias="TEKTON_LOG_TAIL_LINES")
    keep_pipelineruns: bool = Field(default=False, validation_alias="TEKTON_KEEP_PIPELINERUNS")

    @field_validator("kubeconfig")
    @classmethod
    def _first_path(cls, value: str) -> str:
        return value.split(os.pathsep)[0].strip()

    def kubeconfig_path(self) -> Path:
        """The kubeconfig file to read: ``KUBECONFIG`` or ``~/.kube/config``."""
        return Path(self.kubeconfig).expanduser() if self.kubeconfig else Path.home() / ".kube" / "config"


def load_tekton_settings() -> TektonSettings:
    """Read the Tekton settings from the environment; invalid values raise ConfigurationError."""
    try:
        return TektonSettings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            problems.append(f"{name}={err.get('input')!r}: {err['msg']}")
        raise ConfigurationError("invalid Tekton setting: " + "; ".join(problems)) from None
