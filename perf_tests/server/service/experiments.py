"""Experiments: create, get, list, delete, archive and unarchive (``/apis/v2beta1/experiments``).
"""

from __future__ import annotations

import sqlite3

from perf_tests.server.errors import ApiError
from perf_tests.server.service.base import (
    EMPTY,
    Query,
    ServiceBase,
    body_object,
    list_plan,
    new_id,
    string_field,
)
from perf_tests.server.store import (
    EXPERIMENTS,
    ExperimentRow,
)
from perf_tests.server.views import (
    experiment_json,
    list_json,
)

__all__ = ["ExperimentsService"]

class ExperimentsService(ServiceBase):
    """The experiment endpoints."""

    def create_experiment(self, body: bytes) -> str:
        """``POST /experiments``."""
        data = body_object(body, "Experiment")
        name = string_field(data, "display_name", "displayName", "name").strip()
        if not name:
            raise ApiError.invalid("Experiment must have a non-empty display_name")
        row = ExperimentRow(
            experiment_id=new_id(),
            display_name=name,
            description=string_field(data, "description"),
            namespace=self._required_namespace(string_field(data, "namespace"), "Creating an experiment"),
            created_at=self._whole_now(),
            storage_state="AVAILABLE",
            last_run_created_at=0.0,
        )
        try:
            self.store.insert_experiment(row)
        except sqlite3.IntegrityError:
            raise ApiError.already_exists(
                f"Failed to create experiment: an experiment named {name!r} already exists in this namespace"
            ) from None
        return experiment_json(row)

    def _experiment(self, experiment_id: str) -> ExperimentRow:
        row = self.store.get_experiment(experiment_id)
        if row is None:
            raise ApiError.not_found("Experiment", experiment_id)
        self._authorize(row.namespace)
        return row

    def get_experiment(self, experiment_id: str) -> str:
        """``GET /experiments/{id}``."""
        return experiment_json(self._experiment(experiment_id))

    def list_experiments(self, query: Query) -> str:
        """``GET /experiments``."""
        plan = list_plan(
            EXPERIMENTS,
            query,
            scope={"namespace": self._required_namespace(query.get("namespace"), "Listing experiments")},
        )
        rows, token, total = self.store.list_page(plan, self.clock())
        items = [experiment_json(ExperimentRow._make(row[:-1])) for row in rows]
        return list_json("experiments", items, total, token)

    def delete_experiment(self, experiment_id: str) -> str:
        """``DELETE /experiments/{id}``; the Default experiment is refused (``ResourceManager.DeleteExperiment``:
        ``NewBadRequestError``, i.e. ABORTED / HTTP 409)."""
        self._experiment(experiment_id)
        if experiment_id == self.store.get_meta("default_experiment_id"):
            raise ApiError.aborted(
                f"Failed to delete experiment {experiment_id}. The default experiment cannot be deleted"
            )
        if not self.store.delete_experiment(experiment_id):
            raise ApiError.not_found("Experiment", experiment_id)
        return EMPTY

    def set_experiment_archived(self, experiment_id: str, archived: bool) -> str:
        """``POST /experiments/{id}:archive`` and ``:unarchive``."""
        self._experiment(experiment_id)
        self.store.set_experiment_storage(experiment_id, "ARCHIVED" if archived else "AVAILABLE")
        return EMPTY
