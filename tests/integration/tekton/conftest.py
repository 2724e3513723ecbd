"""Fixtures of the Tekton integration tests: the fake Kubernetes API, a kubeconfig for it, settings, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_tests.tekton.client import TektonClient
from perf_tests.tekton.settings import TektonSettings
from tests.integration.tekton.fake_kube import FAKE_TOKEN, Behaviour, FakeKube, write_kubeconfig


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    """A fresh fake cluster serving the real guidellm-load-generator Task in ``pipelines``."""
    with FakeKube(FAKE_TOKEN, Behaviour()) as server:
        server.install_task("pipelines")
        yield server


@pytest.fixture
def kubeconfig(kube: FakeKube, tmp_path: Path) -> Path:
    """A kubeconfig whose current context points at the fake cluster with the fake token."""
    return write_kubeconfig(tmp_path / "kubeconfig", kube.url, FAKE_TOKEN)


@pytest.fixture
def tekton_settings(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> TektonSettings:
    """Settings for the fake cluster with short timings (environment variables, as a user would set them)."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("K8S_CONTEXT", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("TEKTON_WATCH_TIMEOUT", "5")
    monkeypatch.setenv("TEKTON_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("TEKTON_CANCEL_GRACE", "10")
    monkeypatch.setenv("TEKTON_REQUEST_TIMEOUT", "10")
    return TektonSettings()


@pytest.fixture
def client(tekton_settings: TektonSettings) -> Iterator[TektonClient]:
    """A connected client."""
    connected = TektonClient.connect(tekton_settings)
    yield connected
    connected.close()
