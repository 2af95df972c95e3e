"""The spans of a run: the run itself, and its tap, mappers and target with what they moved.

The run's span continues the trace of the request that queued the execution (its
``trace_context``, carried through the executor and the broker). Tap, mappers and target
run at once, joined by pipes, for the whole run: their spans cover the run's processes from
start to end and carry their exit codes; the record counts are the relay's, which reads the
tap's output (the records the tap emitted, by stream, which are what the next process read).
Attributes name things and count them; configuration values never appear.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flx_core.domain import PipelineExecution
from flx_meltano.runner import RunResult
from flx_observability.tracing import continued, mark_failed, span, tracer


def _ns(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000_000)


@contextmanager
def run_span(execution_id: str, trace_context: Mapping[str, str]) -> Iterator[Any]:
    """The span of one execution's run, a child of the span that queued it."""
    with continued(trace_context), span("run", **{"flx.execution_id": execution_id}) as current:
        yield current


def end_run_span(run: Any, finished: PipelineExecution) -> None:
    """What the run came to: its pipeline, status and records."""
    run.set_attribute("flx.pipeline", finished.pipeline_name)
    run.set_attribute("flx.status", finished.status.value)
    run.set_attribute("flx.records", finished.records)
    if finished.status.value != "succeeded":
        mark_failed(run, finished.error or finished.status.value)


def process_spans(result: RunResult) -> None:
    """A child span of the current (run) span for each process of the run: ``tap``,
    ``mapper`` (one per mapper) and ``target``."""
    t = tracer()
    start, end = _ns(result.started_at), _ns(result.finished_at)
    counted = dict(result.records)
    # With mappers between them, the target reads what the last mapper wrote: uncounted.
    direct = not any(p.role == "mapper" for p in result.processes)
    for process in result.processes:
        child = t.start_span(process.role, start_time=start)
        if child.is_recording():
            child.set_attribute("flx.plugin", process.name)
            if process.exit_code is not None:
                child.set_attribute("flx.exit_code", process.exit_code)
            if process.role == "tap" or (process.role == "target" and direct):
                _counts(child, counted)
            if process.exit_code not in (0, None):
                mark_failed(child, f"{process.name} exited with {process.exit_code}")
        child.end(end_time=end)


def _counts(child: Any, counted: dict[str, int]) -> None:
    """The records the tap emitted (and a target right after it read), in total and by
    stream."""
    child.set_attribute("flx.records", sum(counted.values()))
    for stream, records in sorted(counted.items()):
        child.set_attribute(f"flx.records.{stream}", records)
