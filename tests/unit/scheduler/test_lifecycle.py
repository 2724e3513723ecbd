"""One lifecycle: runners, LLM executors, the Tekton load and its PipelineRun session share its protocol,
its final ``stop`` and one stop token along the chain."""

import pytest

from perf_tests.llm.executors.local import LocalExecutor
from perf_tests.llm.executors.tekton import TektonExecutor
from perf_tests.runners.base_runner import AsyncRunner, BaseRunner
from perf_tests.runners.random_gets import RandomGetsRunner
from perf_tests.scheduler import Clock, StopToken
from perf_tests.scheduler.lifecycle import Lifecycle, Stoppable
from perf_tests.tekton.load import TektonLoad
from perf_tests.tekton.session import PipelineRunSession
from perf_tests.tekton.settings import TektonSettings


@pytest.mark.parametrize("cls", [BaseRunner, LocalExecutor, TektonExecutor, TektonLoad, PipelineRunSession])
def test_every_kind_of_work_is_stoppable_with_the_one_final_stop(cls):
    assert issubclass(cls, Stoppable)
    assert cls.stop is Stoppable.stop
    assert getattr(Stoppable.stop, "__final__", False)


@pytest.mark.parametrize("method", [BaseRunner.setup, BaseRunner.execute, BaseRunner.wait_until, AsyncRunner.run])
def test_the_runner_template_methods_are_final(method):
    assert getattr(method, "__final__", False)


def test_an_executor_shares_the_runners_token_so_one_stop_reaches_both():
    runner_token = StopToken()
    executor = LocalExecutor(Clock(), entry_start_offset=0, entry_end_offset=1, startup_lead=0,
                             stopping=runner_token)
    assert isinstance(executor, Lifecycle)
    runner_token.set("end")
    assert executor.stopping.is_set() and executor.stop_reason == "end"


def test_a_tekton_load_stopped_before_it_connected_keeps_the_reason():
    load = TektonLoad(TektonSettings(), run_id="r", scenario="s", run_time=10)
    assert isinstance(load, Lifecycle)
    load.stop("stopped")
    load.stop("timeout")  # the first reason wins
    assert load.stop_reason == "stopped"
    assert load.progress() == "connecting"


def test_a_mode_does_not_override_stop():
    assert RandomGetsRunner.stop is Stoppable.stop
