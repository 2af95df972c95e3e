"""``/executions``: list (filters, keyset pages), show, read the log, cancel, retry.

An execution is named by its id or a unique prefix of it (at least 6 characters), as the
CLI accepts. The live log is in ``routes/streams.py``.
"""

from __future__ import annotations

import codecs
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime

from flx_api.deps import Bus
from flx_api.problems import problem_responses
from flx_api.views import PageOf
from flx_core.application import GetExecution, ListExecutions
from flx_core.domain import ExecutionStatus, PipelineExecution
from flx_core.domain.ports import ExecutionFilter, LogChunk
from flx_meltano import CancelExecution, ExecutionLog, ReadExecutionLog, RetryExecution

router = APIRouter(
    prefix="/executions",
    tags=["executions"],
    responses=problem_responses(401, 403, 404, 422, 429),
)

#: The most one log read returns (the log store's own cap is 4 MiB).
LOG_READ_BYTES = 1024 * 1024
#: No run writes a log of a tebibyte: a larger offset is refused, not sought in a file.
MAX_OFFSET = 2**40


def decoded(data: bytes, *, final: bool) -> tuple[str, int]:
    """The text of log bytes and how many bytes it took: a character cut at the end of
    ``data`` is left for the next read unless ``final``; bytes that are not UTF-8 become
    U+FFFD."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=final)
    pending, _ = decoder.getstate()
    return text, len(data) - len(pending)


def readable(log: ExecutionLog) -> ExecutionLog:
    """The log with its chunk as UTF-8 text (JSON carries text, not bytes); ``next_offset``
    stays a byte offset of the log, where the next read begins."""
    text, used = decoded(log.chunk.data, final=log.complete)
    chunk = LogChunk(
        data=text.encode(), offset=log.chunk.offset, next_offset=log.chunk.offset + used
    )
    return ExecutionLog(execution=log.execution, chunk=chunk, size=log.size)


@router.get("", response_model=PageOf[PipelineExecution])
async def list_executions(
    bus: Bus,
    pipeline: Annotated[str | None, Query(description="A pipeline's name or id")] = None,
    statuses: Annotated[
        list[ExecutionStatus] | None,
        Query(alias="status", description="Repeat for several: ?status=failed&status=queued"),
    ] = None,
    trigger: Annotated[str | None, Query(description="manual, schedule, retry or api")] = None,
    retry_of: Annotated[str | None, Query(description="The attempts of this first run")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Created at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Created before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> PageOf[PipelineExecution]:
    """Runs, newest first."""
    flt = ExecutionFilter(
        statuses=frozenset(statuses or ()),
        trigger=trigger,
        retry_of=retry_of,
        since=since,
        until=until,
    )
    page = await bus(ListExecutions(filter=flt, pipeline=pipeline, limit=limit, cursor=cursor))
    return PageOf[PipelineExecution](items=page.items, next_cursor=page.next_cursor)


@router.get("/{execution_id}", response_model=PipelineExecution)
async def get_execution(execution_id: str, bus: Bus) -> PipelineExecution:
    """One run: status, times, exit codes, per-stream counts, error."""
    execution: PipelineExecution = await bus(GetExecution(execution_id=execution_id))
    return execution


@router.get("/{execution_id}/logs", response_model=ExecutionLog)
async def get_execution_log(
    execution_id: str,
    bus: Bus,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Byte offset to read from")] = 0,
    tail: Annotated[
        int | None, Query(ge=0, description="Only the last N lines (offset is ignored)")
    ] = None,
    limit: Annotated[
        int,
        Query(ge=4, le=LOG_READ_BYTES, description="Bytes at most (4 hold any character)"),
    ] = (LOG_READ_BYTES),
) -> ExecutionLog:
    """A piece of the run's log (tap and target stderr, timestamped) with the execution.

    ``chunk.data`` is text; read on from ``chunk.next_offset`` (a byte offset) until
    ``size`` is reached and the execution is over. ``size`` is null while the run has no
    log. To follow a run live, use ``/logs/stream``."""
    log: ExecutionLog = await bus(
        ReadExecutionLog(execution_id=execution_id, offset=offset, tail=tail, limit=limit)
    )
    return readable(log)


@router.post(
    "/{execution_id}/cancel",
    response_model=PipelineExecution,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
)
async def cancel_execution(execution_id: str, bus: Bus) -> PipelineExecution:
    """Ask a run to stop: a queued run is cancelled at once; a running one is stopped by
    the process running it within seconds (follow it to ``cancelled``)."""
    execution: PipelineExecution = await bus(CancelExecution(execution_id=execution_id))
    return execution


@router.post(
    "/{execution_id}/retry",
    response_model=PipelineExecution,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409, 503),
)
async def retry_execution(execution_id: str, bus: Bus, response: Response) -> PipelineExecution:
    """Run a failed or cancelled execution's pipeline again; the answer is the new
    attempt (queued)."""
    execution: PipelineExecution = await bus(RetryExecution(execution_id=execution_id))
    response.headers["Location"] = f"/api/v1/executions/{execution.id}"
    return execution
