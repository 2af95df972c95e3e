"""Execution queries (the engine writes executions) and the audit trail query."""

from __future__ import annotations

from pydantic import Field

from flx_core.application.context import HandlerContext
from flx_core.application.messages import Query
from flx_core.application.pipelines import module
from flx_core.domain.errors import NotFound, ValidationFailed
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


#: The shortest prefix of an execution id that commands accept (ids have 32 characters).
MIN_ID_PREFIX = 6
SHORT_ID = 12


async def find_execution(ctx: HandlerContext, execution_id: str) -> PipelineExecution:
    """The execution with this id, or with this unique prefix of its id (at least
    ``MIN_ID_PREFIX`` characters, as git accepts short commit ids)."""
    ref = execution_id.strip().lower()
    execution = await ctx.uow.executions.get(ref) if ref else None
    if execution is None:
        if len(ref) < MIN_ID_PREFIX:
            raise NotFound(
                f"execution {execution_id!r} not found (a short id needs at least "
                f"{MIN_ID_PREFIX} characters)",
                execution=execution_id,
            )
        matches = await _with_prefix(ctx, ref)
        if len(matches) > 1:
            shown = ", ".join(m.id[: max(SHORT_ID, len(ref) + 2)] for m in matches[:5])
            raise ValidationFailed(
                f"execution id {execution_id!r} is ambiguous: {len(matches)} executions "
                f"start with it ({shown}{', ...' if len(matches) > 5 else ''}); "
                "give more characters",
                execution=execution_id,
                matches=[m.id for m in matches],
            )
        if not matches:
            raise NotFound(f"execution {execution_id!r} not found", execution=execution_id)
        execution = matches[0]
    ctx.uow.track(execution)
    return execution


async def _with_prefix(ctx: HandlerContext, prefix: str) -> list[PipelineExecution]:
    """Every execution whose id starts with ``prefix`` (all pages, newest first)."""
    found: list[PipelineExecution] = []
    cursor: str | None = None
    while True:
        page = await ctx.uow.executions.list(ExecutionFilter(), limit=500, cursor=cursor)
        found.extend(e for e in page.items if e.id.startswith(prefix))
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


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
