"""Fixtures of the stack tests: the fake Kubernetes API (extended for the stack) and a kubeconfig for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.stack.fake_cluster import FAKE_TOKEN, FakeCluster, StackBehaviour, write_kubeconfig


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    """A fresh fake cluster with the default stack behaviour (ready 1.2 s after scheduling)."""
    server = FakeCluster(FAKE_TOKEN, stack=StackBehaviour())
    with server:
        yield server


@pytest.fixture
def kubeconfig(cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kubeconfig for the fake cluster (namespace 'default'), set as KUBECONFIG for the stack's settings."""
    path = write_kubeconfig(tmp_path / "kubeconfig", cluster.url, FAKE_TOKEN, namespace="default")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("K8S_CONTEXT", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("STACK_REQUEST_TIMEOUT", "10")
    return path
