"""What every runner of one test run shares: settings, clock, events, results folder and targets."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perf_tests.config.settings import Settings
from perf_tests.recorder.events import EventHook
from perf_tests.scheduler.clock import Clock

if TYPE_CHECKING:
    from perf_tests.scaleout.shard import ShardSpec
    from perf_tests.targets.kfp_target import KfpTarget

__all__ = ["RunContext"]


@dataclass
class RunContext:
    """Shared by every runner of a test run.

    ``kfp_target`` is resolved before any runner starts when a KFP mode is in the scenario (the embedded
    simulator or the configured cluster); ``abort`` is set on Ctrl-C / SIGTERM; ``shard`` is set in one
    shard of a scaled-out run.
    """

    run_id: str
    settings: Settings
    events: EventHook
    clock: Clock
    results_dir: Path
    data_dir: Path
    abort: threading.Event = field(default_factory=threading.Event)
    kfp_target: KfpTarget | None = None
    # Shard i of N of a scaled-out run (perf_tests.scaleout): the entries are already split; open-loop
    # runners keep every N-th arrival of their schedule. None: the whole scenario in this process.
    shard: ShardSpec | None = None

    def require_kfp(self) -> KfpTarget:
        """The KFP target; a runner that needs it can rely on the session having resolved it."""
        if self.kfp_target is None:
            raise RuntimeError("no KFP target was resolved for this run")
        return self.kfp_target
