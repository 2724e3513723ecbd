"""Pipelines and pipeline versions: upload, create, get, list, update and delete (``/apis/v2beta1/pipelines``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from perf_tests.server.errors import ApiError
from perf_tests.server.pipeline_spec import PipelineSpec, load_package, spec_from_object
from perf_tests.server.service.base import (
    EMPTY,
    Query,
    ServiceBase,
    body_object,
    list_plan,
    mapping_field,
    new_id,
    string_field,
)
from perf_tests.server.store import (
    PIPELINE_VERSIONS,
    PIPELINES,
    PipelineRow,
    PipelineVersionRow,
)
from perf_tests.server.views import (
    list_json,
    pipeline_json,
    pipeline_version_json,
)

__all__ = ["PipelinesService"]

class PipelinesService(ServiceBase):
    """The pipeline and pipeline version endpoints."""

    def upload_pipeline(self, query: Query, data: bytes, filename: str) -> str:
        """``POST /pipelines/upload`` (multipart ``uploadfile``)."""
        spec = load_package(data, filename)
        name = (query.get("name") or query.get("display_name") or _stem(filename) or spec.name).strip()
        if not name:
            raise ApiError.invalid("Failed to upload pipeline: the pipeline name is empty")
        now = self._whole_now()
        pipeline = PipelineRow(
            pipeline_id=new_id(),
            name=name,
            display_name=(query.get("display_name") or name).strip(),
            description=query.get("description") or "",
            namespace=self._authorized_namespace(query.get("namespace")),
            created_at=now,
        )
        version = PipelineVersionRow(
            pipeline_version_id=new_id(),
            pipeline_id=pipeline.pipeline_id,
            name=name,
            display_name=pipeline.display_name,
            description=pipeline.description,
            created_at=now,
            spec_digest=spec.digest,
            code_source_url="",
            package_url="",
        )
        self._insert_pipeline(pipeline, version, spec)
        return pipeline_json(pipeline)

    def _insert_pipeline(
        self, pipeline: PipelineRow, version: PipelineVersionRow | None, spec: PipelineSpec | None
    ) -> None:
        if spec is not None:
            self.store.put_spec(spec)
        try:
            self.store.insert_pipeline(pipeline, version)
        except sqlite3.IntegrityError:
            raise ApiError.already_exists(
                f"Failed to create a pipeline: a pipeline named {pipeline.name!r} already exists in this namespace"
            ) from None

    def upload_pipeline_version(self, query: Query, data: bytes, filename: str) -> str:
        """``POST /pipelines/upload_version`` (multipart ``uploadfile``, ``pipelineid`` query)."""
        pipeline_id = query.get("pipelineid") or query.get("pipeline_id") or ""
        if not pipeline_id:
            raise ApiError.invalid("Failed to upload a pipeline version: the pipelineid query parameter is missing")
        self._pipeline(pipeline_id)
        spec = load_package(data, filename)
        name = (query.get("name") or query.get("display_name") or _stem(filename) or spec.name).strip()
        version = PipelineVersionRow(
            pipeline_version_id=new_id(),
            pipeline_id=pipeline_id,
            name=name,
            display_name=(query.get("display_name") or name).strip(),
            description=query.get("description") or "",
            created_at=self._whole_now(),
            spec_digest=spec.digest,
            code_source_url="",
            package_url="",
        )
        self._insert_version(version, spec)
        return pipeline_version_json(version, spec.json_text)

    def _insert_version(self, version: PipelineVersionRow, spec: PipelineSpec) -> None:
        self.store.put_spec(spec)
        try:
            self.store.insert_version(version)
        except sqlite3.IntegrityError:
            raise ApiError.already_exists(
                f"Failed to create a pipeline version: pipeline {version.pipeline_id} already has a version "
                f"named {version.name!r}"
            ) from None

    def create_pipeline(self, body: bytes) -> str:
        """``POST /pipelines``: a pipeline without versions."""
        pipeline = self._pipeline_from(body_object(body, "Pipeline"))
        self._insert_pipeline(pipeline, None, None)
        return pipeline_json(pipeline)

    def _pipeline_from(self, data: Mapping[str, Any]) -> PipelineRow:
        name = string_field(data, "name").strip()
        display = string_field(data, "display_name", "displayName").strip()
        name = name or display
        if not name:
            raise ApiError.invalid("Failed to create a pipeline: name or display_name is required")
        return PipelineRow(
            pipeline_id=new_id(),
            name=name,
            display_name=display or name,
            description=string_field(data, "description"),
            namespace=self._authorized_namespace(string_field(data, "namespace")),
            created_at=self._whole_now(),
        )

    def _version_from(self, data: Mapping[str, Any], pipeline_id: str) -> tuple[PipelineVersionRow, PipelineSpec]:
        raw_spec = data.get("pipeline_spec", data.get("pipelineSpec"))
        package = mapping_field(data, "package_url", "packageUrl", message="Url") or {}
        package_url = string_field(package, "pipeline_url", "pipelineUrl", what="package_url.pipeline_url")
        if raw_spec is None:
            raise ApiError.invalid(
                "Failed to create a pipeline version: the embedded KFP simulator cannot fetch package_url "
                f"{package_url!r}; send the compiled spec as pipeline_spec or use /pipelines/upload_version"
            )
        spec = spec_from_object(raw_spec)
        name = string_field(data, "name").strip() or string_field(data, "display_name", "displayName").strip()
        if not name:
            raise ApiError.invalid("Failed to create a pipeline version: name or display_name is required")
        version = PipelineVersionRow(
            pipeline_version_id=new_id(),
            pipeline_id=pipeline_id,
            name=name,
            display_name=string_field(data, "display_name", "displayName").strip() or name,
            description=string_field(data, "description"),
            created_at=self._whole_now(),
            spec_digest=spec.digest,
            code_source_url=string_field(data, "code_source_url", "codeSourceUrl"),
            package_url=package_url,
        )
        return version, spec

    def create_pipeline_and_version(self, body: bytes) -> str:
        """``POST /pipelines/create``: a pipeline and its first version."""
        data = body_object(body, "CreatePipelineAndVersionRequest")
        pipeline = self._pipeline_from(mapping_field(data, "pipeline", message="Pipeline") or {})
        version, spec = self._version_from(
            mapping_field(data, "pipeline_version", "pipelineVersion", message="PipelineVersion") or {},
            pipeline.pipeline_id,
        )
        self._insert_pipeline(pipeline, version, spec)
        return pipeline_json(pipeline)

    def create_pipeline_version(self, pipeline_id: str, body: bytes) -> str:
        """``POST /pipelines/{id}/versions``."""
        self._pipeline(pipeline_id)
        data = body_object(body, "PipelineVersion")
        version, spec = self._version_from(data, pipeline_id)
        self._insert_version(version, spec)
        return pipeline_version_json(version, spec.json_text)

    def _pipeline(self, pipeline_id: str) -> PipelineRow:
        row = self.store.get_pipeline(pipeline_id)
        if row is None:
            raise ApiError.not_found("Pipeline", pipeline_id)
        self._authorize(row.namespace)
        return row

    def get_pipeline(self, pipeline_id: str) -> str:
        """``GET /pipelines/{id}``."""
        return pipeline_json(self._pipeline(pipeline_id))

    def get_pipeline_by_name(self, name: str, query: Query) -> str:
        """``GET /pipelines/names/{name}``."""
        namespace = self._namespace(query.get("namespace"))
        self._authorize(namespace)
        row = self.store.find_pipeline(namespace, name)
        if row is None:
            raise ApiError.not_found("Pipeline named", repr(name))
        return pipeline_json(row)

    def list_pipelines(self, query: Query) -> str:
        """``GET /pipelines``."""
        namespace = self._namespace(query.get("namespace"))
        self._authorize(namespace)
        plan = list_plan(PIPELINES, query, scope={"namespace": namespace})
        rows, token, total = self.store.list_page(plan, self.clock())
        return list_json("pipelines", [pipeline_json(PipelineRow._make(r[:-1])) for r in rows], total, token)

    def delete_pipeline(self, pipeline_id: str, query: Query) -> str:
        """``DELETE /pipelines/{id}``: refused while versions exist unless ``cascade=true``
        (``ResourceManager.DeletePipeline``: INVALID_ARGUMENT)."""
        self._pipeline(pipeline_id)
        cascade = (query.get("cascade") or "").lower() in ("true", "1")
        latest = self.store.latest_version(pipeline_id)
        if latest is not None and not cascade:
            raise ApiError.invalid(
                f"Failed to delete pipeline with id {pipeline_id} as it has existing pipeline versions (e.g. "
                f"{latest.pipeline_version_id}). Set cascade=true to delete all versions"
            )
        self.store.delete_pipeline(pipeline_id)
        return EMPTY

    def update_pipeline(self, pipeline_id: str, body: bytes) -> str:
        """``PATCH /pipelines/{id}`` (body: the ``Pipeline``): a new ``display_name`` if one is given
        (``PipelineServer.UpdatePipeline`` → ``ResourceManager.UpdatePipeline``)."""
        data = body_object(body, "Pipeline")
        self._pipeline(pipeline_id)
        display = string_field(data, "display_name", "displayName").strip()
        if display:
            self.store.update_display_name("pipelines", "pipeline_id", pipeline_id, display)
        return pipeline_json(self._pipeline(pipeline_id))

    def update_pipeline_version(self, pipeline_id: str, version_id: str, body: bytes) -> str:
        """``PATCH /pipelines/{id}/versions/{version_id}`` (body: the ``PipelineVersion``)."""
        data = body_object(body, "PipelineVersion")
        self._version(pipeline_id, version_id)
        display = string_field(data, "display_name", "displayName").strip()
        if display:
            self.store.update_display_name("pipeline_versions", "pipeline_version_id", version_id, display)
        row = self._version(pipeline_id, version_id)
        return pipeline_version_json(row, self._spec_json(row.spec_digest))

    def _version(self, pipeline_id: str, version_id: str) -> PipelineVersionRow:
        row = self.store.get_version(version_id)
        if row is None or (pipeline_id and row.pipeline_id != pipeline_id):
            raise ApiError.not_found("Pipeline version", version_id)
        if self.config.multi_user:
            self._pipeline(row.pipeline_id)
        return row

    def get_pipeline_version(self, pipeline_id: str, version_id: str) -> str:
        """``GET /pipelines/{id}/versions/{version_id}``."""
        row = self._version(pipeline_id, version_id)
        return pipeline_version_json(row, self._spec_json(row.spec_digest))

    def list_pipeline_versions(self, pipeline_id: str, query: Query) -> str:
        """``GET /pipelines/{id}/versions``; an unknown pipeline is NOT_FOUND (``listPipelineVersions`` reads
        its namespace first)."""
        self._pipeline(pipeline_id)
        plan = list_plan(
            PIPELINE_VERSIONS,
            query,
            scope={"pipeline_id": pipeline_id},
        )
        rows, token, total = self.store.list_page(plan, self.clock())
        items = []
        for raw in rows:
            row = PipelineVersionRow._make(raw[:-1])
            items.append(pipeline_version_json(row, self._spec_json(row.spec_digest)))
        return list_json("pipeline_versions", items, total, token)

    def delete_pipeline_version(self, pipeline_id: str, version_id: str) -> str:
        """``DELETE /pipelines/{id}/versions/{version_id}``."""
        self._version(pipeline_id, version_id)
        self.store.delete_version(version_id)
        return EMPTY


def _stem(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".zip", ".yaml", ".yml", ".json"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
