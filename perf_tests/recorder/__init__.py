"""Recording: runners emit events, the recorder aggregates them and the events file keeps them.

Measuring is separate from aggregating: a runner times an operation and fires an ``OperationEvent``
(or, for high-rate streams, a ``PerSecondAggregator`` fires one ``AggregateRecord`` per second); the
``Recorder`` and the ``EventsFileWriter`` listen on the run's ``EventHook``. ``event_codec`` encodes and
decodes ``events.jsonl``; ``operation_summary`` is the shape of one operation's statistics.
"""

from perf_tests.recorder.event_codec import EVENTS_FILE_NAME
from perf_tests.recorder.events import AggregateRecord, EventHook, MetricsRecord, OperationEvent, ScenarioMark
from perf_tests.recorder.failures import classify_exception
from perf_tests.recorder.per_second import PerSecondAggregator
from perf_tests.recorder.recorder import EventsFileWriter, Recorder, ScenarioRecord
from perf_tests.recorder.stats import OperationStats, new_histogram

__all__ = [
    "EVENTS_FILE_NAME",
    "AggregateRecord",
    "EventHook",
    "EventsFileWriter",
    "MetricsRecord",
    "OperationEvent",
    "OperationStats",
    "PerSecondAggregator",
    "Recorder",
    "ScenarioMark",
    "ScenarioRecord",
    "classify_exception",
    "new_histogram",
]
