"""Execution queries (the engine writes executions) and the audit trail query."""

from __future__ import annotations

from pydantic import Field

from flx_core.application.context import HandlerContext
from flx_core.application.messages import Query
from flx_core.application.pipelines import module
from flx_core.domain.errors import NotFound
from flx_core.domain.execution import PipelineExecution
from flx_core.domain.ports import EventFilter, ExecutionFilter, Page, StoredEvent
from flx_core.domain.pydantic_base import ServiceResult
from flx_core.domain.security import Permission


class GetExecution(Query):
    permission = Permission.EXECUTION_READ

    execution_id: str


class ListExecutions(Query):
    permission = Permission.EXECUTION_READ

    filter: ExecutionFilter = Field(default_factory=ExecutionFilter)
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


class ListAuditEvents(Query):
    permission = Permission.AUDIT_READ

    filter: EventFilter = Field(default_factory=EventFilter)
    limit: int = Field(default=100, ge=1, le=1000)


async def find_execution(ctx: HandlerContext, execution_id: str) -> PipelineExecution:
    execution = await ctx.uow.executions.get(execution_id)
    if execution is None:
        # Accept a unique prefix, as git does for commits: ids are long.
        page = await ctx.uow.executions.list(ExecutionFilter(), limit=500)
        matches = [e for e in page.items if e.id.startswith(execution_id)]
        if len(execution_id) >= 4 and len(matches) == 1:
            execution = matches[0]
    if execution is None:
        raise NotFound(f"execution {execution_id!r} not found", execution=execution_id)
    ctx.uow.track(execution)
    return execution


@module.query(GetExecution)
async def get_execution(qry: GetExecution, ctx: HandlerContext) -> ServiceResult[PipelineExecution]:
    return ServiceResult.success(await find_execution(ctx, qry.execution_id))


@module.query(ListExecutions)
async def list_executions(
    qry: ListExecutions, ctx: HandlerContext
) -> ServiceResult[Page[PipelineExecution]]:
    return ServiceResult.success(
        await ctx.uow.executions.list(qry.filter, limit=qry.limit, cursor=qry.cursor)
    )


@module.query(ListAuditEvents)
async def list_audit_events(
    qry: ListAuditEvents, ctx: HandlerContext
) -> ServiceResult[list[StoredEvent]]:
    return ServiceResult.success(await ctx.uow.events.list(qry.filter, limit=qry.limit))
