"""SQLite state of the simulator: experiments, pipelines and versions, runs, recurring runs.

One :class:`Store` owns one ``sqlite3`` connection, used only from the server's event-loop thread, so
requests never contend for it; every call is a short statement or a short transaction. A file database
survives :meth:`~perf_tests.server.embedded.EmbeddedKfpServer.restart`; ``":memory:"`` does not.

Lists use :mod:`perf_tests.server.listing` plans; the indexes below serve each sortable field with a
range scan, and ``total_size`` of unfiltered run lists comes from counters kept in memory, so listing
stays fast with 100k runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from perf_tests.server.answers import RunAnswers
from perf_tests.server.filters import FieldKind, FilterField, Operation, Scalar
from perf_tests.server.lifecycle import (
    ACTIVE_STATES,
    FINISHED_AT_SQL,
    NEVER,
    STATE_CONDITIONS,
    STATE_SQL,
    Timeline,
    state_condition,
)
from perf_tests.server.listing import Listable, ListPlan
from perf_tests.server.pipeline_spec import PipelineSpec

__all__ = [
    "EXPERIMENTS",
    "PIPELINES",
    "PIPELINE_VERSIONS",
    "RECURRING_RUNS",
    "RUNS",
    "ExperimentRow",
    "PipelineRow",
    "PipelineVersionRow",
    "RecurringRunRow",
    "RunRow",
    "Store",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS specs (
    digest TEXT PRIMARY KEY, json_text TEXT NOT NULL, name TEXT NOT NULL, task_names TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
    experiment_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, description TEXT NOT NULL,
    namespace TEXT NOT NULL, created_at REAL NOT NULL, storage_state TEXT NOT NULL,
    last_run_created_at REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS experiments_name ON experiments (namespace, display_name);
CREATE INDEX IF NOT EXISTS experiments_created ON experiments (created_at, experiment_id);
CREATE TABLE IF NOT EXISTS pipelines (
    pipeline_id TEXT PRIMARY KEY, name TEXT NOT NULL, display_name TEXT NOT NULL, description TEXT NOT NULL,
    namespace TEXT NOT NULL, created_at REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS pipelines_name ON pipelines (namespace, name);
CREATE INDEX IF NOT EXISTS pipelines_display ON pipelines (display_name COLLATE NOCASE, pipeline_id);
CREATE INDEX IF NOT EXISTS pipelines_created ON pipelines (created_at, pipeline_id);
CREATE TABLE IF NOT EXISTS pipeline_versions (
    pipeline_version_id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL, name TEXT NOT NULL,
    display_name TEXT NOT NULL, description TEXT NOT NULL, created_at REAL NOT NULL,
    spec_digest TEXT NOT NULL, code_source_url TEXT NOT NULL, package_url TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS versions_name ON pipeline_versions (pipeline_id, name);
CREATE INDEX IF NOT EXISTS versions_created ON pipeline_versions (pipeline_id, created_at, pipeline_version_id);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, experiment_id TEXT NOT NULL, namespace TEXT NOT NULL,
    display_name TEXT NOT NULL, description TEXT NOT NULL, created_at REAL NOT NULL,
    scheduled_at REAL NOT NULL, storage_state TEXT NOT NULL, pipeline_id TEXT NOT NULL,
    pipeline_version_id TEXT NOT NULL, recurring_run_id TEXT NOT NULL, spec_digest TEXT NOT NULL,
    embed_spec INTEGER NOT NULL, static_json TEXT NOT NULL,
    seg_start REAL NOT NULL, start_at REAL NOT NULL, end_at REAL NOT NULL, outcome TEXT NOT NULL,
    task_slot REAL NOT NULL, cancel_at REAL, canceled_at REAL, history_json TEXT);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at, run_id);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment_id, created_at, run_id);
CREATE INDEX IF NOT EXISTS runs_namespace ON runs (namespace, created_at, run_id) WHERE namespace != '';
CREATE INDEX IF NOT EXISTS runs_name ON runs (display_name COLLATE NOCASE, run_id);
CREATE INDEX IF NOT EXISTS runs_recurring ON runs (recurring_run_id) WHERE recurring_run_id != '';
CREATE INDEX IF NOT EXISTS runs_state ON runs (end_at, outcome, start_at, cancel_at) WHERE cancel_at IS NULL;
CREATE INDEX IF NOT EXISTS runs_canceled ON runs (canceled_at, cancel_at) WHERE cancel_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS recurring_runs (
    recurring_run_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, description TEXT NOT NULL,
    experiment_id TEXT NOT NULL, namespace TEXT NOT NULL, pipeline_id TEXT NOT NULL,
    pipeline_version_id TEXT NOT NULL, spec_digest TEXT NOT NULL, embed_spec INTEGER NOT NULL,
    runtime_config_json TEXT NOT NULL, service_account TEXT NOT NULL, max_concurrency INTEGER NOT NULL,
    trigger_json TEXT NOT NULL, enabled INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    no_catchup INTEGER NOT NULL, next_fire_at REAL, fire_count INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS recurring_created ON recurring_runs (created_at, recurring_run_id);
CREATE INDEX IF NOT EXISTS recurring_experiment ON recurring_runs (experiment_id, created_at, recurring_run_id);
CREATE INDEX IF NOT EXISTS recurring_due ON recurring_runs (next_fire_at) WHERE enabled = 1;
"""

_TABLES = ("specs", "experiments", "pipelines", "pipeline_versions", "runs", "recurring_runs", "meta")


class ExperimentRow(NamedTuple):
    """A stored experiment."""

    experiment_id: str
    display_name: str
    description: str
    namespace: str
    created_at: float
    storage_state: str
    last_run_created_at: float


class PipelineRow(NamedTuple):
    """A stored pipeline."""

    pipeline_id: str
    name: str
    display_name: str
    description: str
    namespace: str
    created_at: float


class PipelineVersionRow(NamedTuple):
    """A stored pipeline version; its spec lives in the ``specs`` table under ``spec_digest``."""

    pipeline_version_id: str
    pipeline_id: str
    name: str
    display_name: str
    description: str
    created_at: float
    spec_digest: str
    code_source_url: str
    package_url: str


class RunRow(NamedTuple):
    """A stored run: immutable fields pre-rendered in ``static_json``, the lifecycle as a timeline."""

    run_id: str
    experiment_id: str
    namespace: str
    display_name: str
    description: str
    created_at: float
    scheduled_at: float
    storage_state: str
    pipeline_id: str
    pipeline_version_id: str
    recurring_run_id: str
    spec_digest: str
    embed_spec: int
    static_json: str
    seg_start: float
    start_at: float
    end_at: float | None
    outcome: str
    task_slot: float
    cancel_at: float | None
    canceled_at: float | None
    history_json: str | None

    def timeline(self) -> Timeline:
        """The run's lifecycle timeline."""
        return Timeline(
            seg_start=self.seg_start,
            start_at=self.start_at,
            end_at=None if self.end_at is None or self.end_at >= NEVER else self.end_at,
            outcome=self.outcome,
            task_slot=self.task_slot,
            cancel_at=self.cancel_at,
            canceled_at=self.canceled_at,
            prefix=Timeline.prefix_from_json(self.history_json),
        )


class RecurringRunRow(NamedTuple):
    """A stored recurring run and its firing state."""

    recurring_run_id: str
    display_name: str
    description: str
    experiment_id: str
    namespace: str
    pipeline_id: str
    pipeline_version_id: str
    spec_digest: str
    embed_spec: int
    runtime_config_json: str
    service_account: str
    max_concurrency: int
    trigger_json: str
    enabled: int
    created_at: float
    updated_at: float
    no_catchup: int
    next_fire_at: float | None
    fire_count: int


def _columns(row_type: type[tuple[Any, ...]]) -> str:
    return ", ".join(row_type._fields)  # type: ignore[attr-defined]


def _state_filter(operation: Operation, values: Sequence[Scalar], for_count: bool) -> str | None:
    """``state`` predicates as index-friendly conditions (see ``state_condition``).

    Counting uses the state indexes; a page query uses them only for active states (few runs), and
    otherwise walks the sort index, stopping at the page's end.
    """
    states = [str(value) for value in values]
    use_index = for_count or all(state in ACTIVE_STATES for state in states)
    conditions = [state_condition(state, use_index=use_index) for state in states]
    if operation is Operation.EQUALS:
        return conditions[0]
    if operation is Operation.NOT_EQUALS:
        return f"NOT {state_condition(states[0], use_index=False)}"
    if operation is Operation.IN:
        return f"({' OR '.join(conditions)})" if conditions else "0"
    return None


def _normalize_storage_state(value: str) -> str:
    return value.upper().removeprefix("STORAGESTATE_")


_STRING = FieldKind.STRING
_TIME = FieldKind.TIMESTAMP
_NOCASE = " COLLATE NOCASE"
"""Text compares and sorts case-insensitively, as under MySQL's default ``_ci`` collations (KFP's tables are
utf8 / utf8mb4 with the server's default collation; assumed, not run here). SQLite's NOCASE folds ASCII
letters only; MySQL also folds accents and (``utf8_general_ci``) ignores trailing spaces."""


def _text(sql: str, **options: Any) -> FilterField:
    return FilterField(sql, _STRING, **options)


def _fields(fields: dict[str, FilterField]) -> tuple[dict[str, str], dict[str, FilterField]]:
    """One Go ``...APIToModelFieldMap`` → the sort expressions and filter fields (the same keys, as
    ``list.NewOptions`` sorts with ``GetField`` and filters with ``ReplaceKeys`` on that one map)."""
    sort = {
        key: field.sql + (_NOCASE if field.kind is _STRING and field.collate else "") for key, field in fields.items()
    }
    return sort, fields


# model/experiment.go experimentAPIToModelFieldMap.
_EXPERIMENT_SORT, _EXPERIMENT_FILTER = _fields(
    {
        "id": _text("experiment_id", collate=False),
        "experiment_id": _text("experiment_id", collate=False),
        "name": _text("display_name"),
        "display_name": _text("display_name"),
        "created_at": FilterField("created_at", _TIME),
        "last_run_created_at": FilterField("last_run_created_at", _TIME),
        "description": _text("description"),
        "namespace": _text("namespace"),
        "storage_state": _text("storage_state", normalize=_normalize_storage_state),
    }
)
EXPERIMENTS = Listable(
    resource="experiments",
    table="experiments",
    key="experiment_id",
    columns=_columns(ExperimentRow),
    sort_fields=_EXPERIMENT_SORT,
    filter_fields=_EXPERIMENT_FILTER,
)
# model/pipeline.go pipelineAPIToModelFieldMap.
_PIPELINE_SORT, _PIPELINE_FILTER = _fields(
    {
        "id": _text("pipeline_id", collate=False),
        "pipeline_id": _text("pipeline_id", collate=False),
        "name": _text("name"),
        "display_name": _text("display_name"),
        "created_at": FilterField("created_at", _TIME),
        "description": _text("description"),
        "namespace": _text("namespace"),
    }
)
PIPELINES = Listable(
    resource="pipelines",
    table="pipelines",
    key="pipeline_id",
    columns=_columns(PipelineRow),
    sort_fields=_PIPELINE_SORT,
    filter_fields=_PIPELINE_FILTER,
)
# model/pipeline_version.go PipelineVersion.APIToModelFieldMap (no pipeline_id: the path scopes it).
_VERSION_SORT, _VERSION_FILTER = _fields(
    {
        "id": _text("pipeline_version_id", collate=False),
        "pipeline_version_id": _text("pipeline_version_id", collate=False),
        "name": _text("name"),
        "display_name": _text("display_name"),
        "created_at": FilterField("created_at", _TIME),
        "status": _text("'READY'"),  # every stored version is READY (no DELETING versions are kept)
        "description": _text("description"),
        "pipeline_spec": _text("(SELECT json_text FROM specs WHERE specs.digest = spec_digest)"),
    }
)
PIPELINE_VERSIONS = Listable(
    resource="pipeline_versions",
    table="pipeline_versions",
    key="pipeline_version_id",
    columns=_columns(PipelineVersionRow),
    sort_fields=_VERSION_SORT,
    filter_fields=_VERSION_FILTER,
)
# The v1 ``Conditions`` column as RuntimeState.ToV1 writes it (CANCELED is "Failed" there).
_CONDITIONS_SQL = (
    f"(CASE {STATE_SQL} WHEN 'PENDING' THEN 'Pending' WHEN 'RUNNING' THEN 'Running' WHEN 'SUCCEEDED' THEN "
    "'Succeeded' WHEN 'CANCELING' THEN 'Terminating' ELSE 'Failed' END)"
)
# model/run.go runAPIToModelFieldMap; sorting also takes "metric:<name>" (Run.GetField).
_RUN_SORT, _RUN_FILTER = _fields(
    {
        "run_id": _text("run_id", collate=False),
        "id": _text("run_id", collate=False),
        "display_name": _text("display_name"),
        "name": _text("display_name"),
        "created_at": FilterField("created_at", _TIME),
        "finished_at": FilterField(FINISHED_AT_SQL, _TIME, volatile=True),
        "description": _text("description"),
        "scheduled_at": FilterField("scheduled_at", _TIME),
        "storage_state": _text("storage_state", normalize=_normalize_storage_state),
        "status": _text(_CONDITIONS_SQL, volatile=True),
        "namespace": _text("namespace"),
        "experiment_id": _text("experiment_id", collate=False),
        "state": _text(STATE_SQL, volatile=True, normalize=str.upper, compile=_state_filter, collate=False),
        "state_history": _text("COALESCE(history_json, '')"),
        "runtime_details": _text("''"),  # the simulator keeps no PipelineRuntimeManifest
        "recurring_run_id": _text("recurring_run_id", collate=False),
    }
)
_RUN_SORT["state"] = STATE_SQL
RUNS = Listable(
    resource="runs",
    table="runs",
    key="run_id",
    columns=_columns(RunRow),
    sort_fields=_RUN_SORT,
    filter_fields=_RUN_FILTER,
    # No run has metrics here, so every run ties on a metric (NULL in KFP's LEFT JOIN) and goes by id.
    sort_prefixes={"metric:": "(0 + 0)"},  # an expression, not "0": ORDER BY 0 would be a column number
)
# model/job.go jobAPIToModelFieldMap.
_JOB_SORT, _JOB_FILTER = _fields(
    {
        "id": _text("recurring_run_id", collate=False),
        "recurring_run_id": _text("recurring_run_id", collate=False),
        "name": _text("display_name"),
        "display_name": _text("display_name"),
        "created_at": FilterField("created_at", _TIME),
        "updated_at": FilterField("updated_at", _TIME),
        "description": _text("description"),
    }
)
RECURRING_RUNS = Listable(
    resource="recurring_runs",
    table="recurring_runs",
    key="recurring_run_id",
    columns=_columns(RecurringRunRow),
    sort_fields=_JOB_SORT,
    filter_fields=_JOB_FILTER,
)


class Store:
    """The simulator's tables on one SQLite connection (file path or ``":memory:"``)."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        # One thread uses the connection at a time (the server loop); closing may happen elsewhere.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA foreign_keys = OFF")
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA temp_store = MEMORY")
        self._conn.execute("PRAGMA cache_size = -65536")
        self._conn.executescript(_SCHEMA)
        self._specs: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._spec_bytes: dict[str, bytes] = {}
        # Experiments' namespaces by id (a namespace never changes; a delete or reset drops it): listing
        # runs of an experiment reads it on every page.
        self._experiment_namespaces: dict[str, str] = {}
        self.answers = RunAnswers()
        """Finished runs' rendered answers; every write to a run below drops its entry."""
        self._generation: Counter[str] = Counter()
        self._count_cache: dict[tuple[str, str, tuple[tuple[str, Any], ...]], tuple[int, int]] = {}
        self._run_counts: Counter[tuple[str, str]] = Counter()
        self._load_counters()

    def close(self) -> None:
        """Close the connection (a file database is checkpointed by SQLite)."""
        self._conn.close()

    # -- transactions, counters -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group statements into one transaction (one commit)."""
        self._conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _load_counters(self) -> None:
        self._run_counts.clear()
        self._run_counts[("", "")] = self._scalar("SELECT count(*) FROM runs")
        for experiment_id, count in self._conn.execute("SELECT experiment_id, count(*) FROM runs GROUP BY 1"):
            self._run_counts[("experiment_id", experiment_id)] = count
        for namespace, count in self._conn.execute("SELECT namespace, count(*) FROM runs GROUP BY 1"):
            self._run_counts[("namespace", namespace)] = count

    def _scalar(self, sql: str, params: Any = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _changed(self, table: str) -> None:
        self._generation[table] += 1

    def reset(self) -> None:
        """Delete everything (the schema stays)."""
        with self.transaction():
            for table in _TABLES:
                self._conn.execute(f"DELETE FROM {table}")
        self._specs.clear()
        self._spec_bytes.clear()
        self._experiment_namespaces.clear()
        self.answers.clear()
        self._count_cache.clear()
        for table in _TABLES:
            self._changed(table)
        self._load_counters()

    def counts(self) -> dict[str, int]:
        """How many objects of each kind are stored."""
        return {
            table: int(self._scalar(f"SELECT count(*) FROM {table}"))
            for table in ("experiments", "pipelines", "pipeline_versions", "recurring_runs")
        } | {"runs": self._run_counts[("", "")]}

    def count_runs_by_state(self, now: float) -> dict[str, int]:
        """Runs in each state at ``now`` (each count answered from the state indexes)."""
        return {
            state: int(self._scalar(f"SELECT count(*) FROM runs WHERE {condition}", {"now": now}))
            for state, condition in STATE_CONDITIONS.items()
        }

    # -- meta -----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A stored setting, e.g. the id of the default experiment."""
        value = self._scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- specs ----------------------------------------------------------------------------------

    def put_spec(self, spec: PipelineSpec) -> None:
        """Store a pipeline spec once per digest."""
        if spec.digest in self._specs:
            return
        self._conn.execute(
            "INSERT OR IGNORE INTO specs (digest, json_text, name, task_names) VALUES (?, ?, ?, ?)",
            (spec.digest, spec.json_text, spec.name, json.dumps(spec.task_names)),
        )
        self._specs[spec.digest] = (spec.json_text, spec.task_names)

    def spec(self, digest: str) -> tuple[str, tuple[str, ...]]:
        """A stored spec's JSON text and ordered task names (cached: specs are few and immutable)."""
        cached = self._specs.get(digest)
        if cached is None:
            row = self._conn.execute("SELECT json_text, task_names FROM specs WHERE digest = ?", (digest,)).fetchone()
            cached = ("{}", ()) if row is None else (row[0], tuple(json.loads(row[1])))
            self._specs[digest] = cached
        return cached

    def spec_bytes(self, digest: str) -> bytes:
        """A stored spec's JSON as UTF-8 (one object per spec, shared by the answers of all its runs)."""
        cached = self._spec_bytes.get(digest)
        if cached is None:
            cached = self._spec_bytes[digest] = self.spec(digest)[0].encode()
        return cached

    # -- generic listing ------------------------------------------------------------------------

    def list_page(self, plan: ListPlan, now: float) -> tuple[list[Any], str | None, int]:
        """Run a list plan: the page's rows, the next page token (or None) and the total size."""
        params = plan.params | {"now": now}
        rows = self._conn.execute(plan.select_sql(), params).fetchall()
        token = None
        if len(rows) > plan.page_size:
            extra = rows[plan.page_size]
            token = plan.next_token(extra[-1], extra[0])
            rows = rows[: plan.page_size]
        return rows, token, self._total(plan, params)

    def _total(self, plan: ListPlan, params: dict[str, Any]) -> int:
        table = plan.listable.table
        if table == "runs" and not plan.filtered and len(plan.scope) <= 1:
            key = plan.scope[0] if plan.scope else ("", "")
            return self._run_counts[key]
        sql = plan.count_sql()
        if plan.volatile:
            return int(self._scalar(sql, params))
        cache_key = (table, sql, tuple(sorted((k, v) for k, v in params.items() if k != "now")))
        generation = self._generation[table]
        cached = self._count_cache.get(cache_key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        total = int(self._scalar(sql, params))
        if len(self._count_cache) > 4096:
            self._count_cache.clear()
        self._count_cache[cache_key] = (generation, total)
        return total

    # -- experiments ----------------------------------------------------------------------------

    def insert_experiment(self, row: ExperimentRow) -> None:
        """Insert an experiment.

        Raises:
            sqlite3.IntegrityError: an experiment with this name exists in the namespace.
        """
        self._conn.execute(f"INSERT INTO experiments ({_columns(ExperimentRow)}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        self._changed("experiments")

    def get_experiment(self, experiment_id: str) -> ExperimentRow | None:
        """An experiment by id."""
        row = self._conn.execute(
            f"SELECT {_columns(ExperimentRow)} FROM experiments WHERE experiment_id = ?", (experiment_id,)
        ).fetchone()
        return None if row is None else ExperimentRow._make(row)

    def experiment_namespace(self, experiment_id: str) -> str | None:
        """An experiment's namespace, or None when it does not exist (cheaper than the whole row)."""
        namespace = self._experiment_namespaces.get(experiment_id)
        if namespace is None:
            row = self._conn.execute(
                "SELECT namespace FROM experiments WHERE experiment_id = ?", (experiment_id,)
            ).fetchone()
            if row is None:
                return None
            namespace = self._experiment_namespaces[experiment_id] = str(row[0])
        return namespace

    def find_experiment(self, namespace: str, display_name: str) -> ExperimentRow | None:
        """An experiment by namespace and name."""
        row = self._conn.execute(
            f"SELECT {_columns(ExperimentRow)} FROM experiments WHERE namespace = ? AND display_name = ?",
            (namespace, display_name),
        ).fetchone()
        return None if row is None else ExperimentRow._make(row)

    def set_experiment_storage(self, experiment_id: str, storage_state: str) -> None:
        """Archive or unarchive an experiment; archiving also archives its runs (as KFP does)."""
        with self.transaction():
            self._conn.execute(
                "UPDATE experiments SET storage_state = ? WHERE experiment_id = ?", (storage_state, experiment_id)
            )
            if storage_state == "ARCHIVED":
                self._conn.execute(
                    "UPDATE runs SET storage_state = 'ARCHIVED' WHERE experiment_id = ?", (experiment_id,)
                )
                self.answers.clear()  # rare: not worth finding which runs were the experiment's
                self._conn.execute("UPDATE recurring_runs SET enabled = 0 WHERE experiment_id = ?", (experiment_id,))
        for table in ("experiments", "runs", "recurring_runs"):
            self._changed(table)

    def delete_experiment(self, experiment_id: str) -> bool:
        """Delete an experiment (its runs stay, as in KFP); False if it did not exist."""
        deleted = self._conn.execute("DELETE FROM experiments WHERE experiment_id = ?", (experiment_id,)).rowcount
        self._experiment_namespaces.pop(experiment_id, None)
        self._changed("experiments")
        return bool(deleted)

    # -- pipelines and versions -----------------------------------------------------------------

    def insert_pipeline(self, row: PipelineRow, version: PipelineVersionRow | None = None) -> None:
        """Insert a pipeline, optionally with its first version, in one transaction.

        Raises:
            sqlite3.IntegrityError: a pipeline with this name exists in the namespace.
        """
        with self.transaction():
            self._conn.execute(f"INSERT INTO pipelines ({_columns(PipelineRow)}) VALUES (?, ?, ?, ?, ?, ?)", row)
            if version is not None:
                self._insert_version(version)
        self._changed("pipelines")
        self._changed("pipeline_versions")

    def get_pipeline(self, pipeline_id: str) -> PipelineRow | None:
        """A pipeline by id."""
        row = self._conn.execute(
            f"SELECT {_columns(PipelineRow)} FROM pipelines WHERE pipeline_id = ?", (pipeline_id,)
        ).fetchone()
        return None if row is None else PipelineRow._make(row)

    def find_pipeline(self, namespace: str, name: str) -> PipelineRow | None:
        """A pipeline by namespace and name."""
        row = self._conn.execute(
            f"SELECT {_columns(PipelineRow)} FROM pipelines WHERE namespace = ? AND name = ?", (namespace, name)
        ).fetchone()
        return None if row is None else PipelineRow._make(row)

    def update_display_name(self, table: str, key: str, ident: str, display_name: str) -> None:
        """Rename a pipeline or pipeline version (``table`` and ``key`` are ours, never the client's)."""
        assert (table, key) in (("pipelines", "pipeline_id"), ("pipeline_versions", "pipeline_version_id"))
        self._conn.execute(f"UPDATE {table} SET display_name = ? WHERE {key} = ?", (display_name, ident))
        self._changed(table)

    def count_versions(self, pipeline_id: str) -> int:
        """How many versions a pipeline has."""
        return int(self._scalar("SELECT count(*) FROM pipeline_versions WHERE pipeline_id = ?", (pipeline_id,)))

    def delete_pipeline(self, pipeline_id: str) -> bool:
        """Delete a pipeline and its versions; False if it did not exist."""
        with self.transaction():
            self._conn.execute("DELETE FROM pipeline_versions WHERE pipeline_id = ?", (pipeline_id,))
            deleted = self._conn.execute("DELETE FROM pipelines WHERE pipeline_id = ?", (pipeline_id,)).rowcount
        self._changed("pipelines")
        self._changed("pipeline_versions")
        return bool(deleted)

    def _insert_version(self, row: PipelineVersionRow) -> None:
        self._conn.execute(
            f"INSERT INTO pipeline_versions ({_columns(PipelineVersionRow)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
        )

    def insert_version(self, row: PipelineVersionRow) -> None:
        """Insert a pipeline version.

        Raises:
            sqlite3.IntegrityError: a version with this name exists for the pipeline.
        """
        self._insert_version(row)
        self._changed("pipeline_versions")

    def get_version(self, pipeline_version_id: str) -> PipelineVersionRow | None:
        """A pipeline version by id."""
        row = self._conn.execute(
            f"SELECT {_columns(PipelineVersionRow)} FROM pipeline_versions WHERE pipeline_version_id = ?",
            (pipeline_version_id,),
        ).fetchone()
        return None if row is None else PipelineVersionRow._make(row)

    def latest_version(self, pipeline_id: str) -> PipelineVersionRow | None:
        """A pipeline's most recently created version (what KFP runs for a pipeline id alone)."""
        row = self._conn.execute(
            f"SELECT {_columns(PipelineVersionRow)} FROM pipeline_versions WHERE pipeline_id = ? "
            "ORDER BY created_at DESC, pipeline_version_id DESC LIMIT 1",
            (pipeline_id,),
        ).fetchone()
        return None if row is None else PipelineVersionRow._make(row)

    def delete_version(self, pipeline_version_id: str) -> bool:
        """Delete a pipeline version; False if it did not exist."""
        deleted = self._conn.execute(
            "DELETE FROM pipeline_versions WHERE pipeline_version_id = ?", (pipeline_version_id,)
        ).rowcount
        self._changed("pipeline_versions")
        return bool(deleted)

    # -- runs -----------------------------------------------------------------------------------

    _RUN_INSERT = f"INSERT INTO runs ({_columns(RunRow)}) VALUES ({', '.join('?' * len(RunRow._fields))})"
    _RUN_SELECT = f"SELECT {_columns(RunRow)} FROM runs WHERE run_id = ?"
    _LATEST_RUN_UPDATE = (
        "UPDATE experiments SET last_run_created_at = ? WHERE experiment_id = ? AND last_run_created_at < ?"
    )

    def insert_run(self, row: RunRow, experiment_latest: float = float("-inf")) -> None:
        """Insert a run and note it as its experiment's latest.

        ``experiment_latest`` is the experiment's ``last_run_created_at`` as the caller read it (unknown by
        default). That value only grows, so one read earlier is never above the stored one: a run no newer
        than it leaves the experiment as it is, and the insert is one statement rather than a transaction
        of two. With whole-second times that is every run of an experiment's second but the first.
        """
        stored = row._replace(end_at=NEVER) if row.end_at is None else row
        if row.created_at <= experiment_latest:
            self._conn.execute(self._RUN_INSERT, stored)
        else:
            with self.transaction():
                self._conn.execute(self._RUN_INSERT, stored)
                self._conn.execute(self._LATEST_RUN_UPDATE, (row.created_at, row.experiment_id, row.created_at))
        self._run_counts[("", "")] += 1
        self._run_counts[("experiment_id", row.experiment_id)] += 1
        self._run_counts[("namespace", row.namespace)] += 1
        self._changed("runs")

    def get_run(self, run_id: str) -> RunRow | None:
        """A run by id."""
        row = self._conn.execute(self._RUN_SELECT, (run_id,)).fetchone()
        return None if row is None else RunRow._make(row)

    def get_runs(self, run_ids: list[str]) -> dict[str, RunRow]:
        """Runs by id (missing ids are left out)."""
        placeholders = ", ".join("?" * len(run_ids))
        rows = self._conn.execute(f"SELECT {_columns(RunRow)} FROM runs WHERE run_id IN ({placeholders})", run_ids)
        return {row[0]: RunRow._make(row) for row in rows}

    def update_run_timeline(self, run_id: str, timeline: Timeline) -> None:
        """Store a run's new timeline (after terminate or retry)."""
        self._conn.execute(
            "UPDATE runs SET seg_start = ?, start_at = ?, end_at = ?, outcome = ?, task_slot = ?, cancel_at = ?, "
            "canceled_at = ?, history_json = ? WHERE run_id = ?",
            (
                timeline.seg_start,
                timeline.start_at,
                NEVER if timeline.end_at is None else timeline.end_at,
                timeline.outcome,
                timeline.task_slot,
                timeline.cancel_at,
                timeline.canceled_at,
                timeline.prefix_json(),
                run_id,
            ),
        )
        self.answers.discard(run_id)
        self._changed("runs")

    def set_run_storage(self, run_id: str, storage_state: str) -> None:
        """Archive or unarchive a run."""
        self._conn.execute("UPDATE runs SET storage_state = ? WHERE run_id = ?", (storage_state, run_id))
        self.answers.discard(run_id)
        self._changed("runs")

    def delete_run(self, run: RunRow) -> None:
        """Delete a run."""
        self.answers.discard(run.run_id)
        if self._conn.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,)).rowcount:
            self._run_counts[("", "")] -= 1
            self._run_counts[("experiment_id", run.experiment_id)] -= 1
            self._run_counts[("namespace", run.namespace)] -= 1
        self._changed("runs")

    def count_active_runs(self, recurring_run_id: str, now: float) -> int:
        """Runs of a recurring run that are PENDING, RUNNING or CANCELING at ``now``."""
        return int(
            self._scalar(
                f"SELECT count(*) FROM runs WHERE recurring_run_id = :rid AND {STATE_SQL} "
                "IN ('PENDING', 'RUNNING', 'CANCELING')",
                {"rid": recurring_run_id, "now": now},
            )
        )

    # -- recurring runs -------------------------------------------------------------------------

    def insert_recurring(self, row: RecurringRunRow) -> None:
        """Insert a recurring run."""
        placeholders = ", ".join("?" * len(RecurringRunRow._fields))
        self._conn.execute(f"INSERT INTO recurring_runs ({_columns(RecurringRunRow)}) VALUES ({placeholders})", row)
        self._changed("recurring_runs")

    def get_recurring(self, recurring_run_id: str) -> RecurringRunRow | None:
        """A recurring run by id."""
        row = self._conn.execute(
            f"SELECT {_columns(RecurringRunRow)} FROM recurring_runs WHERE recurring_run_id = ?",
            (recurring_run_id,),
        ).fetchone()
        return None if row is None else RecurringRunRow._make(row)

    def update_recurring(self, recurring_run_id: str, **values: Any) -> None:
        """Update some columns of a recurring run (``enabled``, ``updated_at``, ``next_fire_at``, ...)."""
        unknown = set(values) - set(RecurringRunRow._fields)
        if unknown:
            raise ValueError(f"unknown recurring run columns {sorted(unknown)}")
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        self._conn.execute(
            f"UPDATE recurring_runs SET {assignments} WHERE recurring_run_id = :recurring_run_id",
            {**values, "recurring_run_id": recurring_run_id},
        )
        self._changed("recurring_runs")

    def delete_recurring(self, recurring_run_id: str) -> bool:
        """Delete a recurring run (its runs stay); False if it did not exist."""
        deleted = self._conn.execute(
            "DELETE FROM recurring_runs WHERE recurring_run_id = ?", (recurring_run_id,)
        ).rowcount
        self._changed("recurring_runs")
        return bool(deleted)

    def due_recurring(self, now: float) -> list[RecurringRunRow]:
        """Enabled recurring runs whose next fire time has come."""
        rows = self._conn.execute(
            f"SELECT {_columns(RecurringRunRow)} FROM recurring_runs "
            "WHERE enabled = 1 AND next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at",
            (now,),
        ).fetchall()
        return [RecurringRunRow._make(row) for row in rows]

    def next_fire_time(self) -> float | None:
        """The earliest next fire time of any enabled recurring run."""
        value = self._scalar("SELECT min(next_fire_at) FROM recurring_runs WHERE enabled = 1")
        return None if value is None else float(value)
