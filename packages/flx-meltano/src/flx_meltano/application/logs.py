"""Reading an execution's log through the log store, from whichever process asks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from flx_core.application import HandlerContext, Query, find_execution
from flx_core.domain import Permission, PipelineExecution, ServiceResult
from flx_core.domain.ports import LogChunk, LogStorePort
from flx_meltano.application.module import handlers
from flx_meltano.logs import last_lines

#: The most one read returns; a reader asks again from ``next_offset`` for more.
READ_BYTES = 4 * 1024 * 1024


class ReadExecutionLog(Query):
    """The bytes of an execution's log from ``offset`` (at most ``limit``), or with ``tail``
    its last ``tail`` lines (whatever their length). The execution comes with them, read
    before the log: once it is over, the log read after it is all there will be, so a
    follower knows when to stop."""

    permission = Permission.EXECUTION_READ

    execution_id: str
    offset: int = Field(default=0, ge=0)
    tail: int | None = Field(default=None, ge=0)
    limit: int = Field(default=READ_BYTES, ge=1, le=READ_BYTES)


class ExecutionLog(BaseModel):
    """The answer of ``ReadExecutionLog``; ``size`` is None when the store has no log for
    the execution (yet, or any more)."""

    model_config = ConfigDict(frozen=True)

    execution: PipelineExecution
    chunk: LogChunk
    size: int | None

    @property
    def complete(self) -> bool:
        """Whether nothing more will come after this chunk."""
        done = self.size is None or self.chunk.next_offset >= self.size
        return done and self.execution.status.is_terminal


@handlers.query(ReadExecutionLog)
async def read_execution_log(
    qry: ReadExecutionLog, ctx: HandlerContext, *, logs: LogStorePort
) -> ServiceResult[ExecutionLog]:
    execution = await find_execution(ctx, qry.execution_id)
    # End the query's transaction before the store opens its own: on SQLite it holds the
    # write lock, and on any database nothing stays open while megabytes are read.
    await ctx.uow.rollback()
    if qry.tail is not None:
        chunk = await last_lines(logs, execution.id, qry.tail)
        size = None if chunk is None else chunk.next_offset
    else:
        chunk = await logs.read(execution.id, qry.offset, qry.limit)
        size = await logs.size(execution.id)
    empty = LogChunk(data=b"", offset=qry.offset, next_offset=qry.offset)
    return ServiceResult.success(ExecutionLog(execution=execution, chunk=chunk or empty, size=size))
