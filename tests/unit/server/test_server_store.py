"""The SQLite store: keyset paging, counts, query plans that stay fast at scale, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_tests.server.errors import ApiError
from perf_tests.server.lifecycle import Timeline
from perf_tests.server.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ListPlan, parse_page_size, plan_list
from perf_tests.server.store import EXPERIMENTS, RUNS, ExperimentRow, RunRow, Store


def make_run(index: int, experiment_id: str = "e1", created_at: float | None = None, namespace: str = "") -> RunRow:
    created = 1000.0 + index if created_at is None else created_at
    return RunRow(
        run_id=f"run-{index:05d}",
        experiment_id=experiment_id,
        namespace=namespace,
        display_name=f"name-{index % 7}",
        description="",
        created_at=created,
        scheduled_at=created,
        storage_state="AVAILABLE",
        pipeline_id="",
        pipeline_version_id="",
        recurring_run_id="",
        spec_digest="d",
        embed_spec=0,
        static_json=f'"run_id":"run-{index:05d}"',
        seg_start=created,
        start_at=created + 1,
        end_at=created + 10,
        outcome="SUCCEEDED",
        task_slot=3.0,
        cancel_at=None,
        canceled_at=None,
        history_json=None,
    )


def plan(
    page_size: int | None = None, sort_by: str = "", token: str = "", filter_text: str = "", **scope: str
) -> ListPlan:
    return plan_list(
        RUNS,
        page_token=token or None,
        page_size=None if page_size is None else str(page_size),
        sort_by=sort_by or None,
        filter_text=filter_text or None,
        scope=scope,
    )


@pytest.fixture
def store() -> Store:
    s = Store()
    for i in range(50):
        s.insert_run(make_run(i, experiment_id="e1" if i % 2 else "e2"))
    return s


def walk(store: Store, first: ListPlan) -> list[list[str]]:
    pages = []
    rows, token, _ = store.list_page(first, 2000.0)
    pages.append([r[0] for r in rows])
    while token:
        rows, token, _ = store.list_page(plan(page_size=first.page_size, token=token), 2000.0)
        pages.append([r[0] for r in rows])
    return pages


def test_page_size_rules() -> None:
    assert parse_page_size(None) == DEFAULT_PAGE_SIZE
    assert parse_page_size("0") == DEFAULT_PAGE_SIZE
    assert parse_page_size("5") == 5
    assert parse_page_size("100000") == MAX_PAGE_SIZE
    for bad in ("-1", "x", "1.5"):
        with pytest.raises(ApiError):
            parse_page_size(bad)


def test_paging_visits_every_row_once_in_order(store: Store) -> None:
    pages = walk(store, plan(page_size=7, sort_by="created_at desc"))
    flat = [run_id for page in pages for run_id in page]
    assert flat == [f"run-{i:05d}" for i in reversed(range(50))]
    assert [len(p) for p in pages] == [7] * 7 + [1]


def test_paging_with_ties_on_the_sort_field(store: Store) -> None:
    pages = walk(store, plan(page_size=4, sort_by="name"))
    flat = [run_id for page in pages for run_id in page]
    assert len(flat) == len(set(flat)) == 50
    names = [int(run_id[-5:]) % 7 for run_id in flat]
    assert names == sorted(names)


def test_page_token_keeps_scope_filter_and_sort(store: Store) -> None:
    name_filter = json.dumps({"predicates": [{"key": "name", "operation": 1, "string_value": "name-3"}]})
    first = plan(page_size=2, sort_by="created_at desc", filter_text=name_filter)
    rows, token, total = store.list_page(first, 2000.0)
    expected = [f"run-{i:05d}" for i in reversed(range(50)) if i % 7 == 3]
    assert total == len(expected)
    seen = [r[0] for r in rows]
    while token:
        rows, token, _ = store.list_page(plan(page_size=2, token=token), 2000.0)
        seen += [r[0] for r in rows]
    assert seen == expected


def test_total_size_per_scope_tracks_inserts_and_deletes(store: Store) -> None:
    assert store.list_page(plan(), 0)[2] == 50
    assert store.list_page(plan(experiment_id="e1"), 0)[2] == 25
    store.delete_run(make_run(1, experiment_id="e1"))
    assert store.list_page(plan(experiment_id="e1"), 0)[2] == 24
    assert store.list_page(plan(), 0)[2] == 49
    assert store.counts()["runs"] == 49


def test_filtered_counts_follow_writes(store: Store) -> None:
    archived = json.dumps({"predicates": [{"key": "storage_state", "operation": 1, "string_value": "ARCHIVED"}]})
    assert store.list_page(plan(filter_text=archived), 0)[2] == 0
    store.set_run_storage("run-00003", "ARCHIVED")
    assert store.list_page(plan(filter_text=archived), 0)[2] == 1
    legacy = archived.replace('"ARCHIVED"', '"STORAGESTATE_ARCHIVED"')
    assert store.list_page(plan(filter_text=legacy), 0)[2] == 1


def test_state_filter_is_evaluated_at_the_read_time(store: Store) -> None:
    running = json.dumps({"predicates": [{"key": "state", "operation": 1, "string_value": "RUNNING"}]})
    # run i is PENDING until 1001+i, RUNNING until 1010+i
    assert store.list_page(plan(filter_text=running), 1005.5)[2] == 5  # runs 0..4 are running, 5.. pending
    assert store.list_page(plan(filter_text=running), 5000.0)[2] == 0


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({"sort_by": "created_at desc"}, "runs_created"),
        ({"sort_by": "created_at desc", "experiment_id": "e1"}, "runs_experiment"),
        ({"sort_by": "name"}, "runs_name"),
        ({"sort_by": "", "namespace": "ns"}, "runs_namespace"),
    ],
)
def test_list_queries_use_an_index_without_sorting(store: Store, query: dict[str, str], index: str) -> None:
    sort_by = query.pop("sort_by")
    _, token, _ = store.list_page(plan(page_size=3, sort_by=sort_by, **query), 0)
    for token_value in ("", token or ""):
        p = plan(page_size=3, sort_by=sort_by if not token_value else "", token=token_value, **query)
        detail = " ".join(
            row[-1] for row in store._conn.execute("EXPLAIN QUERY PLAN " + p.select_sql(), p.params | {"now": 0.0})
        )
        assert index in detail, detail
        assert "TEMP B-TREE" not in detail, detail


def test_bad_sort_and_token() -> None:
    with pytest.raises(ApiError, match="Invalid sorting field"):
        plan(sort_by="color")
    with pytest.raises(ApiError, match="sort by format"):
        plan(sort_by="name up")
    with pytest.raises(ApiError, match="page token"):
        plan(token="!!!")
    other = plan_list(EXPERIMENTS, page_token=None, page_size="1", sort_by=None, filter_text=None)
    token = other.next_token(1.0, "x")
    with pytest.raises(ApiError, match="issued for experiments"):
        plan(token=token)


def test_timeline_updates_and_row_round_trip(store: Store) -> None:
    row = store.get_run("run-00004")
    assert row is not None
    timeline = row.timeline()
    assert timeline.state(1004.5) == "PENDING"
    terminated = timeline.terminated(1006.0, 0.5)
    assert terminated is not None
    store.update_run_timeline(row.run_id, terminated)
    again = store.get_run("run-00004")
    assert again is not None
    assert again.timeline() == terminated
    assert again.timeline().state(1007.0) == "CANCELED"


def test_experiment_names_are_unique_per_namespace() -> None:
    store = Store()
    store.insert_experiment(ExperimentRow("a", "exp", "", "", 1.0, "AVAILABLE", 0.0))
    store.insert_experiment(ExperimentRow("b", "exp", "", "other", 1.0, "AVAILABLE", 0.0))
    with pytest.raises(Exception, match="UNIQUE"):
        store.insert_experiment(ExperimentRow("c", "exp", "", "", 1.0, "AVAILABLE", 0.0))


def test_file_database_persists_rows_and_counters(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = Store(path)
    for i in range(3):
        store.insert_run(make_run(i))
    store.close()
    reopened = Store(path)
    assert reopened.counts()["runs"] == 3
    assert reopened.list_page(plan(experiment_id="e1"), 0)[2] == 3
    reopened.reset()
    assert reopened.counts()["runs"] == 0
    reopened.close()


def test_retried_timeline_keeps_history_in_the_row(store: Store) -> None:
    row = store.get_run("run-00000")
    assert row is not None
    failed = Timeline(1000.0, 1001.0, 1002.0, "FAILED", 1.0)
    store.update_run_timeline(row.run_id, failed)
    from perf_tests.server.lifecycle import RunPlan

    retried = failed.retried(1005.0, RunPlan(0.5, 1.0, "SUCCEEDED", False, 1))
    store.update_run_timeline(row.run_id, retried)
    stored = store.get_run(row.run_id)
    assert stored is not None
    states = [state for state, _ in stored.timeline().history(1010.0)]
    assert states == ["PENDING", "RUNNING", "FAILED", "PENDING", "RUNNING", "SUCCEEDED"]
