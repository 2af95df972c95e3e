"""ExecutionService's unary methods: run, list, get, read the log, cancel, retry. The
streams (StreamLogs, Watch) are in ``streams``."""

from __future__ import annotations

import codecs
from typing import Any, TypeAlias

from grpc import aio

from flx_core.application import GetExecution, ListExecutions
from flx_core.domain.ports import ExecutionFilter
from flx_grpc._caller import build, current
from flx_grpc._convert import to_proto
from flx_grpc._errors import invalid_field
from flx_grpc._generated.flx.v1 import execution_service_pb2 as pb, types_pb2
from flx_grpc.services._base import page_size, when
from flx_meltano import (
    CancelExecution,
    ExecutionLog,
    ReadExecutionLog,
    RetryExecution,
    RunPipeline,
)

Context: TypeAlias = aio.ServicerContext[Any, Any]
Execution = types_pb2.Execution

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


def offset_of(value: int) -> int:
    if not 0 <= value <= MAX_OFFSET:
        raise invalid_field("offset", f"must be a byte offset between 0 and {MAX_OFFSET}")
    return value


def log_message(log: ExecutionLog) -> pb.ExecutionLog:
    """The log with its chunk as text; ``next_offset`` stays a byte offset of the log."""
    text, used = decoded(log.chunk.data, final=log.complete)
    answer = pb.ExecutionLog(
        execution=to_proto(log.execution, Execution),
        chunk=pb.LogChunk(data=text, offset=log.chunk.offset, next_offset=log.chunk.offset + used),
    )
    if log.size is not None:
        answer.size = log.size
    return answer


class ExecutionUnaryMethods:
    """The unary half of ExecutionService (the servicer class joins it with the streams)."""

    async def RunPipeline(self, request: pb.RunPipelineRequest, context: Context) -> Any:
        message = build(
            RunPipeline,
            pipeline=request.pipeline,
            full_refresh=request.full_refresh,
            refresh_catalog=request.refresh_catalog,
            timeout=request.timeout if request.HasField("timeout") else None,
            trigger="api",
            idempotency_key=(
                request.idempotency_key if request.HasField("idempotency_key") else None
            ),
        )
        return to_proto(await current()(message), Execution)

    async def ListExecutions(self, request: pb.ListExecutionsRequest, context: Context) -> Any:
        flt = build(
            ExecutionFilter,
            statuses=frozenset(request.statuses),
            trigger=request.trigger if request.HasField("trigger") else None,
            retry_of=request.retry_of if request.HasField("retry_of") else None,
            since=when(request, "since"),
            until=when(request, "until"),
        )
        query = build(
            ListExecutions,
            filter=flt,
            pipeline=request.pipeline if request.HasField("pipeline") else None,
            limit=page_size(request.page_size, 50, 500),
            cursor=request.page_token or None,
        )
        page = await current()(query)
        return pb.ListExecutionsResponse(
            executions=[to_proto(e, Execution) for e in page.items],
            next_page_token=page.next_cursor or "",
        )

    async def GetExecution(self, request: pb.GetExecutionRequest, context: Context) -> Any:
        found = await current()(build(GetExecution, execution_id=request.execution_id))
        return to_proto(found, Execution)

    async def GetExecutionLog(self, request: pb.GetExecutionLogRequest, context: Context) -> Any:
        limit = request.limit or LOG_READ_BYTES
        if not 4 <= limit <= LOG_READ_BYTES:
            raise invalid_field("limit", f"must be between 4 and {LOG_READ_BYTES} bytes")
        log: ExecutionLog = await current()(
            build(
                ReadExecutionLog,
                execution_id=request.execution_id,
                offset=offset_of(request.offset),
                tail=request.tail if request.HasField("tail") else None,
                limit=limit,
            )
        )
        return log_message(log)

    async def CancelExecution(self, request: pb.CancelExecutionRequest, context: Context) -> Any:
        found = await current()(build(CancelExecution, execution_id=request.execution_id))
        return to_proto(found, Execution)

    async def RetryExecution(self, request: pb.RetryExecutionRequest, context: Context) -> Any:
        found = await current()(build(RetryExecution, execution_id=request.execution_id))
        return to_proto(found, Execution)
