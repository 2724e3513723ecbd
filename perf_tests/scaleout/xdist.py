"""``pytest -n N test_performance.py``: N processes run one scenario, split, and the controller judges it once.

The controller (the pytest process that starts the workers):

- picks one absolute start time (now + ``--perf-shard-lead``), a run id and a seed, and hands each worker
  its shard through ``workerinput`` (``gw<i>`` runs shard ``i`` of ``N``);
- with ``API_HOST`` unset and a KFP mode in the scenario, starts ONE embedded simulator in its own process
  for every worker (once a worker has collected its shard item);
- schedules the items itself, whatever ``--dist`` says (``ShardScheduling``): each worker runs its one
  ``perf_shard[i/N]`` item (the shard's whole part of the scenario), other tests are spread once;
- when every worker is down, merges their results (``workeroutput``: the recorder's snapshot, HDR
  histograms encoded, and each shard's load-generator health), queries Prometheus once over each merged
  entry's window, judges every entry on the merged numbers, writes one results directory (each shard's
  own beside it in ``shard-<i>/``) and reports one test item per entry with the merged verdict.

A worker replaces the entry items it collected by its shard item; the items are reported by the
controller under their usual ids (``test_scenario[RANDOM_GETS#0]``), so JUnit XML and ``-v`` read as in a
one-process run.
"""

from __future__ import annotations

import logging
import random
import socket
import sys
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import EachScheduling  # type: ignore[import-untyped]  # xdist ships no type information
from xdist.workermanage import parse_tx_spec_config  # type: ignore[import-untyped]

from perf_tests.errors import PerfTestsError
from perf_tests.scaleout.result import ShardResult
from perf_tests.scaleout.shard import DEFAULT_START_LEAD, ShardSpec

__all__ = ["ShardController", "ShardItem", "ShardScheduling", "ShardWorker", "install"]

logger = logging.getLogger(__name__)

SHARD_INPUT = "perf_shard"
SHARD_OUTPUT = "perf_shard_result"
ITEMS_OUTPUT = "perf_entry_items"
ERROR_OUTPUT = "perf_shard_error"
_SHARD_ITEM = "perf_shard["


def install(config: pytest.Config) -> None:
    """Register the controller or worker side when pytest-xdist runs this session."""
    if hasattr(config, "workerinput"):
        if SHARD_INPUT in config.workerinput:
            config.pluginmanager.register(ShardWorker(config), "perf-shard-worker")
    elif getattr(config.option, "dist", "no") != "no" and getattr(config.option, "tx", None):
        config.pluginmanager.register(ShardController(config), "perf-shard-controller")


class ShardScheduling(EachScheduling):  # type: ignore[misc]  # untyped base
    """Each worker runs its own ``perf_shard`` item; every other test runs once, spread over the workers."""

    def schedule(self) -> None:
        assert self.collection_is_completed
        nodes = sorted(self.node2pending, key=lambda node: _gateway_index(node.gateway.id))
        for position, node in enumerate(nodes):
            if node in self._started:
                continue
            collection = self.node2collection[node]
            pending = self.node2pending[node]
            others = [index for index, nodeid in enumerate(collection) if _SHARD_ITEM not in nodeid]
            pending[:] = [index for index, nodeid in enumerate(collection) if _SHARD_ITEM in nodeid]
            pending += others[position::len(nodes)]
            if pending:
                node.send_runtest_some(sorted(pending))
            node.shutdown()
            self._started.append(node)


def _gateway_index(gateway_id: str) -> int:
    digits = "".join(char for char in gateway_id if char.isdigit())
    return int(digits) if digits else 0


class ShardController:
    """The controller side (see the module docstring)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.count = len(parse_tx_spec_config(config))
        self.results: dict[int, ShardResult] = {}
        self.errors: dict[int, str] = {}
        self.items: list[tuple[str, tuple[str, int | None, str], str]] = []
        self.spec: ShardSpec | None = None
        self.root: Path | None = None
        self.simulator: Any = None
        self._simulator_settings: dict[str, Any] = {}
        self.session: Any = None

    def _prepare(self) -> None:
        """Once, before the first worker is configured: start time, run id, shared simulator."""
        if self.spec is not None:
            return
        from perf_tests.pytest_plugin.plugin import perf_session_or_error
        from perf_tests.session.session import new_run_id

        session = perf_session_or_error(self.config)
        lead = self.config.getoption("--perf-shard-lead")
        lead = DEFAULT_START_LEAD if lead is None else float(lead)
        simulator_url = None
        run_id = new_run_id()
        if not isinstance(session, PerfTestsError):
            self.session = session
            self.root = session.results_dir
            run_id = session.run_id
            try:
                simulator_url = self._start_simulator(session)
            except PerfTestsError as exc:
                logger.error("%s", exc)
        barrier = str(self.root / ".shards" / run_id) if self.root is not None else None
        self.spec = ShardSpec(index=0, count=self.count, start_at=time.time() + lead, run_id=run_id,
                              seed=random.SystemRandom().randrange(2**31), simulator_url=simulator_url,
                              barrier=barrier)

    def _start_simulator(self, session: Any) -> str | None:
        """The URL of one embedded simulator for every worker (API_HOST unset, KFP modes only).

        Only its port is chosen here; it starts, in its own process, once a worker has collected a shard item
        (``pytest -n 2 tests/`` without the perf test starts none), before any shard is scheduled.
        """
        from perf_tests.runners.registry import runner_for

        try:
            entries = session.scenario.entries
        except PerfTestsError:
            return None  # the workers report the scenario's error
        connection = session.settings.connection
        if not connection.embedded or not any(runner_for(e.mode).needs_kfp for e in entries):
            return None
        simulator = dict(connection.embedded_simulator)
        if connection.multi_user:
            from perf_tests.server import multi_user_settings

            auth = session.settings.auth
            simulator = multi_user_settings(connection.namespace, auth.bearer_token(), auth.cookie()) | simulator
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self._simulator_settings = {"isolation": "process", **simulator, "host": "127.0.0.1", "port": port}
        return f"http://127.0.0.1:{port}"

    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        if self.simulator is None and self._simulator_settings and any(_SHARD_ITEM in nodeid for nodeid in ids):
            from perf_tests.targets.embedded import start_embedded_server

            try:
                self.simulator = start_embedded_server(**self._simulator_settings)
            except (PerfTestsError, OSError, RuntimeError) as exc:
                logger.error("could not start the embedded KFP simulator for the shards: %s", exc)
                self._simulator_settings = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> ShardScheduling:
        return ShardScheduling(config, log)

    def pytest_configure_node(self, node: Any) -> None:
        self._prepare()
        assert self.spec is not None
        index = _gateway_index(node.gateway.id)
        node.workerinput[SHARD_INPUT] = self.spec.model_copy(update={"index": index}).model_dump()
        node.workerinput["perf_results_root"] = str(self.root) if self.root is not None else None

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", None) or {}
        index = _gateway_index(node.gateway.id)
        if output.get(ITEMS_OUTPUT) and not self.items:
            self.items = [(nodeid, tuple(location), name) for nodeid, location, name in output[ITEMS_OUTPUT]]
        if output.get(SHARD_OUTPUT):
            self.results[index] = ShardResult.model_validate_json(output[SHARD_OUTPUT])
        elif output.get(ERROR_OUTPUT):
            self.errors[index] = str(output[ERROR_OUTPUT])
        elif error is not None:
            self.errors[index] = f"the worker went down: {str(error)[:300]}"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        try:
            result = yield
        except KeyboardInterrupt:
            if self.root is not None:  # the shards wrote what they had; the merge can be made afterwards
                sys.stderr.write(f"\ninterrupted before the merge: merge what the shards wrote with 'python -m "
                                 f"perf_tests merge {self.root}/shard-* --out {self.root}'\n")
            raise
        finally:
            self._stop_simulator()
        if self.items:
            self._report(session)
        return result

    def _stop_simulator(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None

    def _report(self, session: pytest.Session) -> None:
        """Merge, judge and report one item per entry with the merged verdict."""
        from perf_tests.pytest_plugin.plugin import store_outcome, verdict_properties
        from perf_tests.scaleout.merge import merge_results
        from perf_tests.scaleout.upload import upload_merged

        outcome: Any = None
        problem: str | None = None
        missing = [index for index in range(self.count) if index not in self.results]
        if missing:
            problem = "no merged verdict: " + "; ".join(
                f"shard {index}/{self.count}: {self.errors.get(index, 'sent no results')}" for index in missing)
        elif self.root is not None:
            try:
                baseline = self.session.baseline if self.session is not None else None
                prometheus = self.session.settings.prometheus if self.session is not None else None
                outcome = merge_results(list(self.results.values()), self.root, baseline, prometheus=prometheus)
            except (PerfTestsError, OSError) as exc:
                problem = f"could not merge the shards' results: {exc}"
            else:
                upload_merged(self.session.uploader if self.session is not None else None, outcome)
                store_outcome(self.config, outcome)
        hook = self.config.hook
        for nodeid, location, name in self.items:
            hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
            failed: str | None = problem
            properties: list[tuple[str, object]] = []
            if outcome is not None:
                verdict = outcome.verdict(name)
                properties = verdict_properties(outcome, name)
                if not verdict.passed:
                    failed = "\n".join(check.message for check in verdict.failures())
            for when in ("setup", "call", "teardown"):
                bad = failed is not None and when == "call"
                # Every phase's report carries the properties, as an item's do: JUnit XML reads them at teardown.
                report = pytest.TestReport(nodeid, location, {name: 1}, "failed" if bad else "passed",
                                           failed if bad else None, when, [], user_properties=properties)
                hook.pytest_runtest_logreport(report=report)
            hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)


class ShardItem(pytest.Item):
    """Runs this worker's shard of the whole scenario (every entry's part) once."""

    def __init__(self, *, spec: ShardSpec, root: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.root = root

    def runtest(self) -> None:
        from perf_tests.pytest_plugin.plugin import session_arguments
        from perf_tests.scaleout.session import ShardSession, shard_results_dir

        workeroutput = self.config.workeroutput  # type: ignore[attr-defined]
        arguments = session_arguments(self.config)
        arguments.pop("baseline", None)  # the controller compares the merged numbers with the baseline
        arguments.pop("baseline_options", None)
        if self.root:
            arguments["results_dir"] = shard_results_dir(Path(self.root), self.spec.index)
        try:
            session = ShardSession(self.spec, **arguments)
            session.run()
        except PerfTestsError as exc:
            workeroutput[ERROR_OUTPUT] = str(exc)
            pytest.fail(str(exc), pytrace=False)
        if session.result is None:
            workeroutput[ERROR_OUTPUT] = "the shard wrote no results"
            pytest.fail("the shard wrote no results", pytrace=False)
        workeroutput[SHARD_OUTPUT] = session.result.model_dump_json()

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


class ShardWorker:
    """The worker side: its entry items become one ``perf_shard[i/N]`` item."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.spec = ShardSpec.model_validate(config.workerinput[SHARD_INPUT])  # type: ignore[attr-defined]
        self.root = config.workerinput.get("perf_results_root")  # type: ignore[attr-defined]

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        entries = [item for item in items if "perf_entry" in getattr(item, "fixturenames", ())]
        named = [(item, _entry_of(item)) for item in entries]
        if not named or any(entry is None or entry.error is not None for _, entry in named):
            return  # no scenario here, or it did not load: its error item runs as usual
        first = entries[0]
        assert first.parent is not None
        shard = ShardItem.from_parent(first.parent, name=f"perf_shard[{self.spec.label}]", spec=self.spec,
                                      root=self.root)
        position = items.index(first)
        kept = [item for item in items if item not in entries]
        kept.insert(min(position, len(kept)), shard)
        items[:] = kept
        self.config.workeroutput[ITEMS_OUTPUT] = [  # type: ignore[attr-defined]
            (item.nodeid, list(item.location), entry.name) for item, entry in named if entry is not None]


def _entry_of(item: pytest.Item) -> Any:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("perf_entry") if callspec is not None else None


def shard_labels(results: Sequence[ShardResult]) -> list[str]:
    """``i/N`` of each result (for messages)."""
    return [result.shard.label for result in results]
