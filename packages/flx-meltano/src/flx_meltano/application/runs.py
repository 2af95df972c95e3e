"""Running and cancelling pipelines."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flx_core.application import Command, HandlerContext, find_execution
from flx_core.domain import Permission, PipelineExecution, ServiceResult
from flx_meltano.application.module import module
from flx_meltano.engine.executor import LocalExecutor
from flx_meltano.engine.orchestrator import RunOptions


class RunPipeline(Command):
    permission = Permission.PIPELINE_RUN

    pipeline: str
    full_refresh: bool = False
    refresh_catalog: bool = False
    timeout: float | None = Field(default=None, gt=0)
    trigger: str = "manual"


class CancelExecution(Command):
    permission = Permission.PIPELINE_RUN

    execution_id: str


@module.command(RunPipeline)
async def run_pipeline(
    cmd: RunPipeline, ctx: HandlerContext
) -> ServiceResult[tuple[PipelineExecution, Any]]:
    executor = ctx.get(LocalExecutor)
    options = RunOptions(
        full_refresh=cmd.full_refresh,
        refresh_catalog=cmd.refresh_catalog,
        timeout=cmd.timeout,
        trigger=cmd.trigger,
    )
    execution, result = await executor.run(cmd.pipeline, options, ctx.principal)
    return ServiceResult.success((execution, result))


@module.command(CancelExecution)
async def cancel_execution(
    cmd: CancelExecution, ctx: HandlerContext
) -> ServiceResult[PipelineExecution]:
    execution = await find_execution(ctx, cmd.execution_id)
    execution.request_cancel()
    await ctx.uow.executions.save(execution)
    ctx.get(LocalExecutor).cancel(execution.id)
    return ServiceResult.success(execution)
