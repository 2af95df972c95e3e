"""Running and cancelling pipelines."""

from __future__ import annotations

from pydantic import Field

from flx_core.application import Command, HandlerContext, find_execution, load_pipeline
from flx_core.config import FlxSettings
from flx_core.domain import Permission, PipelineExecution, ServiceResult
from flx_core.domain.ports import ExecutorPort, RunRequest
from flx_meltano.application.module import handlers
from flx_meltano.engine.lifecycle import claim_execution, reap_dead, stale_after
from flx_meltano.engine.paths import log_path
from flx_meltano.engine.pipeline_run import load_run_plugins


class RunPipeline(Command):
    """Queue a run of ``pipeline`` and hand it to the executor; returns the execution at
    once (``ExecutorPort.wait`` follows it to its end)."""

    permission = Permission.PIPELINE_RUN

    pipeline: str
    full_refresh: bool = False
    refresh_catalog: bool = False
    timeout: float | None = Field(default=None, gt=0)
    trigger: str = "manual"


class ReapDeadExecutions(Command):
    """Mark failed the executions whose process died (on this host) or whose heartbeat
    stopped, releasing their pipelines; returns their ids. Adapters send it before showing
    executions, so a run whose `flx` was killed does not look alive. It changes executions,
    so it needs the permission to run pipelines (a server's reaper acts as the system)."""

    permission = Permission.PIPELINE_RUN


class CancelExecution(Command):
    permission = Permission.PIPELINE_RUN

    execution_id: str


@handlers.command(RunPipeline)
async def run_pipeline(
    cmd: RunPipeline, ctx: HandlerContext, *, executor: ExecutorPort, settings: FlxSettings
) -> ServiceResult[PipelineExecution]:
    pipeline = await load_pipeline(ctx.uow, cmd.pipeline)
    await load_run_plugins(ctx.uow, pipeline)  # refuse a pipeline whose plugins are gone
    home = settings.home_path
    execution = await claim_execution(
        ctx.uow,
        pipeline,
        trigger=cmd.trigger,
        full_refresh=cmd.full_refresh,
        log_path_for=lambda eid: str(log_path(home, pipeline.name, eid)),
        now=ctx.clock.now(),
        stale_after=stale_after(settings),
    )
    request = RunRequest(
        execution_id=execution.id,
        pipeline_id=pipeline.id,
        principal=ctx.principal,
        full_refresh=cmd.full_refresh,
        refresh_catalog=cmd.refresh_catalog,
        timeout=cmd.timeout,
    )
    ctx.after_commit(lambda: executor.submit(request))
    return ServiceResult.success(execution)


@handlers.command(ReapDeadExecutions)
async def reap_dead_executions(
    cmd: ReapDeadExecutions, ctx: HandlerContext, *, settings: FlxSettings
) -> ServiceResult[list[str]]:
    reaped = await reap_dead(ctx.uow, now=ctx.clock.now(), stale_after=stale_after(settings))
    return ServiceResult.success(reaped)


@handlers.command(CancelExecution)
async def cancel_execution(
    cmd: CancelExecution, ctx: HandlerContext, *, executor: ExecutorPort
) -> ServiceResult[PipelineExecution]:
    execution = await find_execution(ctx, cmd.execution_id)
    execution.request_cancel()
    await ctx.uow.executions.save(execution)
    ctx.after_commit(lambda: executor.cancel(execution.id))
    return ServiceResult.success(execution)
