"""Pipeline packages: read an uploaded YAML / JSON / ``.tar.gz`` / ``.zip``, check it is a KFP v2 IR spec.

The simulator only needs a spec's name and the tasks of its root DAG (their number sets a run's
duration; their names and order become task details), and it echoes the spec back as the API does.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from perf_tests.server.errors import ApiError

__all__ = ["PipelineSpec", "load_package", "spec_from_object"]

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_PACKAGE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class PipelineSpec:
    """A validated pipeline spec and what the simulator derives from it."""

    json_text: str
    """Compact JSON the API echoes as ``pipeline_spec`` (camelCase proto JSON, as uploaded)."""
    name: str
    """``pipelineInfo.name``."""
    task_names: tuple[str, ...]
    """Root DAG tasks in dependency order (display names)."""
    digest: str
    """SHA-256 of ``json_text``; identical specs are stored once."""


def load_package(data: bytes, filename: str) -> PipelineSpec:
    """Read an uploaded pipeline package.

    Raises:
        ApiError: INVALID_ARGUMENT when the file is not an archive holding one pipeline YAML, not YAML or
            JSON, or not a KFP v2 pipeline spec.
    """
    if not data:
        raise ApiError.invalid("Failed to upload pipeline: the uploaded file is empty")
    if len(data) > MAX_PACKAGE_BYTES:
        raise ApiError.invalid(f"Failed to upload pipeline: the file is larger than {MAX_PACKAGE_BYTES} bytes")
    lower = filename.lower()
    if data[:2] == b"\x1f\x8b" or lower.endswith((".tar.gz", ".tgz")):
        data = _from_tarball(data)
    elif data[:4] == b"PK\x03\x04" or lower.endswith(".zip"):
        data = _from_zip(data)
    return _from_yaml(data)


def _choose(names: list[str]) -> str:
    candidates = [n for n in names if n.endswith((".yaml", ".yml", ".json"))]
    if not candidates:
        raise ApiError.invalid("Failed to upload pipeline: the archive holds no pipeline YAML file")
    for preferred in ("pipeline.yaml", "pipeline.yml", "pipeline.json"):
        if preferred in candidates:
            return preferred
    if len(candidates) > 1:
        raise ApiError.invalid("Failed to upload pipeline: the archive holds several YAML files and no pipeline.yaml")
    return candidates[0]


def _from_tarball(data: bytes) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            handle = tar.extractfile(members[_choose(list(members))])
            if handle is None:
                raise ApiError.invalid("Failed to upload pipeline: unreadable file in the tarball")
            return handle.read(MAX_PACKAGE_BYTES + 1)
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as exc:
        raise ApiError.invalid(f"Failed to upload pipeline: not a valid .tar.gz archive ({exc})") from None


def _from_zip(data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            with archive.open(_choose(names)) as handle:
                return handle.read(MAX_PACKAGE_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error, ValueError) as exc:
        raise ApiError.invalid(f"Failed to upload pipeline: not a valid .zip archive ({exc})") from None


def _from_yaml(data: bytes) -> PipelineSpec:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError.invalid(
            "Failed to upload pipeline: the file is neither YAML nor JSON (not UTF-8 text)"
        ) from None
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_SafeLoader) if doc is not None]
    except yaml.YAMLError as exc:
        raise ApiError.invalid(f"Failed to upload pipeline: invalid YAML: {exc}") from None
    if not documents:
        raise ApiError.invalid("Failed to upload pipeline: the file holds no YAML document")
    spec = documents[0]
    platform: dict[str, Any] = {}
    for extra in documents[1:]:
        if not isinstance(extra, dict):
            raise ApiError.invalid("Failed to upload pipeline: the platform spec document must be a mapping")
        platform.update(extra)
    if isinstance(spec, dict) and "pipeline_spec" in spec and "root" not in spec:
        platform = spec.get("platform_spec") or platform
        spec = spec["pipeline_spec"]
    return _build(spec, platform or None)


def spec_from_object(value: Any) -> PipelineSpec:
    """Validate the ``pipeline_spec`` of a run or recurring run body (a spec, or a wrapper with
    ``pipeline_spec`` and ``platform_spec`` as ``kfp.Client`` sends when there is a platform spec).

    Raises:
        ApiError: INVALID_ARGUMENT when it is not a KFP v2 pipeline spec.
    """
    if isinstance(value, dict) and "pipeline_spec" in value and "root" not in value:
        platform = value.get("platform_spec")
        if platform is not None and not isinstance(platform, dict):
            raise ApiError.invalid("Invalid pipeline_spec: platform_spec must be an object")
        return _build(value["pipeline_spec"], platform, echo=value)
    return _build(value, None)


def _build(spec: Any, platform: Mapping[str, Any] | None, echo: Any = None) -> PipelineSpec:
    if not isinstance(spec, dict):
        raise ApiError.invalid("Invalid pipeline spec: expected a mapping (a KFP v2 compiled pipeline)")
    if spec.get("kind") == "Workflow" or "apiVersion" in spec:
        raise ApiError.invalid(
            "Invalid pipeline spec: this looks like a v1 Argo workflow; the simulator accepts KFP v2 IR YAML only"
        )
    info = spec.get("pipelineInfo")
    if not isinstance(info, dict) or not isinstance(info.get("name"), str) or not info["name"]:
        raise ApiError.invalid("Invalid pipeline spec: pipelineInfo.name is missing")
    root = spec.get("root")
    if not isinstance(root, dict):
        raise ApiError.invalid("Invalid pipeline spec: the root component is missing")
    dag = root.get("dag")
    tasks = dag.get("tasks", {}) if isinstance(dag, dict) else {}
    if not isinstance(tasks, dict) or (dag is None and "executorLabel" not in root):
        raise ApiError.invalid("Invalid pipeline spec: root must have a dag with tasks or an executorLabel")
    if echo is None:
        echo = {"pipeline_spec": spec, "platform_spec": platform} if platform else spec
    try:
        text = json.dumps(echo, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError) as exc:
        raise ApiError.invalid(f"Invalid pipeline spec: not JSON-serialisable ({exc})") from None
    return PipelineSpec(
        json_text=text,
        name=info["name"],
        task_names=_ordered_task_names(tasks) or (info["name"],),
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )


def _ordered_task_names(tasks: Mapping[str, Any]) -> tuple[str, ...]:
    """Kahn's algorithm over ``dependentTasks``, keeping declaration order among ready tasks."""
    deps: dict[str, set[str]] = {}
    for key, task in tasks.items():
        listed = task.get("dependentTasks", []) if isinstance(task, dict) else []
        deps[key] = {d for d in listed if isinstance(d, str) and d in tasks and d != key}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(deps):
        ready = [k for k in deps if k not in done and deps[k] <= done]
        if not ready:  # a cycle: keep the rest in declaration order rather than fail
            ready = [k for k in deps if k not in done]
        for key in ready:
            order.append(key)
            done.add(key)
    names = []
    for key in order:
        task = tasks[key]
        info = task.get("taskInfo") if isinstance(task, dict) else None
        name = info.get("name") if isinstance(info, dict) else None
        names.append(name if isinstance(name, str) and name else key)
    return tuple(names)
