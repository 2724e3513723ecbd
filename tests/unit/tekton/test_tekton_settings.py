"""Tekton settings: defaults, environment variables, errors, and connecting without a cluster."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from perf_tests.errors import ConfigurationError, TargetError
from perf_tests.tekton import settings as settings_module
from perf_tests.tekton.client import TektonClient
from perf_tests.tekton.settings import TektonSettings, load_tekton_settings

VARIABLES = (
    "KUBECONFIG",
    "K8S_CONTEXT",
    "K8S_IN_CLUSTER",
    "KUBERNETES_SERVICE_HOST",
    "TEKTON_NAMESPACE",
    "TEKTON_TASK_NAMESPACE",
    "TEKTON_TASK_NAME",
    "TEKTON_WORKSPACE",
    "TEKTON_STORAGE_SIZE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = load_tekton_settings()
    assert settings.namespace == "pipelines"
    assert settings.task_namespace == "pipelines"
    assert settings.task_name == "guidellm-load-generator"
    assert settings.workspace == "emptyDir"
    assert settings.kubeconfig_path() == Path.home() / ".kube" / "config"
    assert not settings.keep_pipelineruns


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/a/config:/b/config")
    monkeypatch.setenv("K8S_CONTEXT", "prod")
    monkeypatch.setenv("TEKTON_NAMESPACE", "perf")
    monkeypatch.setenv("TEKTON_WORKSPACE", "volumeClaimTemplate")
    monkeypatch.setenv("TEKTON_STORAGE_SIZE", "10Gi")
    monkeypatch.setenv("TEKTON_KEEP_PIPELINERUNS", "true")
    settings = load_tekton_settings()
    assert settings.kubeconfig_path() == Path("/a/config")
    assert (settings.context, settings.namespace, settings.workspace, settings.storage_size) == (
        "prod",
        "perf",
        "volumeClaimTemplate",
        "10Gi",
    )
    assert settings.keep_pipelineruns


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEKTON_WORKSPACE", "hostPath")
    monkeypatch.setenv("TEKTON_STORAGE_SIZE", "lots")
    with pytest.raises(ConfigurationError, match=r"TEKTON_WORKSPACE='hostPath'.*TEKTON_STORAGE_SIZE='lots'"):
        load_tekton_settings()


def test_every_variable_is_documented() -> None:
    doc = settings_module.__doc__ or ""
    for field in TektonSettings.model_fields.values():
        alias = field.validation_alias
        assert isinstance(alias, str)
        assert re.search(rf"``{alias}``", doc), alias


def test_no_kubeconfig_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(TargetError, match=r"no kubeconfig: KUBECONFIG=.*missing does not exist.*log in"):
        TektonClient.connect(TektonSettings())


def test_unknown_context_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "a",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "secret-token-0123456789"}}],
                "contexts": [
                    {"name": "a", "context": {"cluster": "c", "user": "u"}},
                    {"name": "b", "context": {"cluster": "c", "user": "u"}},
                ],
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("K8S_CONTEXT", "prod")
    with pytest.raises(TargetError, match=r"context 'prod' not found \(K8S_CONTEXT\); available: a, b") as caught:
        TektonClient.connect(TektonSettings())
    assert "secret-token" not in str(caught.value)


def test_in_cluster_outside_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8S_IN_CLUSTER", "true")
    with pytest.raises(TargetError, match="cannot use the in-cluster service account"):
        TektonClient.connect(TektonSettings())
