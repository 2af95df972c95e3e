"""Requesting, retrying, cancelling and reaping runs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from flx_core.application import Command, HandlerContext, find_execution, load_pipeline
from flx_core.config import FlxSettings
from flx_core.domain import (
    ConcurrencyConflict,
    NotFound,
    Permission,
    Pipeline,
    PipelineExecution,
    ServiceResult,
    ValidationFailed,
    new_id,
)
from flx_core.domain.ports import ExecutionFilter, ExecutorPort, RunRequest
from flx_core.domain.pydantic_base import DomainValueObject
from flx_meltano.application.module import handlers
from flx_meltano.engine.lifecycle import reap_dead, request_run
from flx_meltano.engine.paths import log_path
from flx_meltano.engine.pipeline_run import load_run_plugins
from flx_meltano.idempotency import IdempotencyKeyRepository
from flx_meltano.locks import RunLockRepository

Trigger = Literal["manual", "schedule", "retry", "api"]


class RunPipeline(Command):
    """Queue a run of ``pipeline`` and hand it to the executor; returns the execution at
    once (``ExecutorPort.wait`` follows it to its end). A repeat with the same
    ``idempotency_key`` within 24 hours returns the first request's execution."""

    permission = Permission.PIPELINE_RUN

    pipeline: str
    full_refresh: bool = False
    refresh_catalog: bool = False
    timeout: float | None = Field(default=None, gt=0)
    trigger: Trigger = "manual"
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)


class RetryExecution(Command):
    """Run a failed or cancelled execution's pipeline again, as its next attempt."""

    permission = Permission.PIPELINE_RUN

    execution_id: str


class ReapDeadExecutions(Command):
    """Mark failed ("worker lost") the executions whose process died or whose heartbeat
    stopped, release their pipelines and queue their retries; returns their ids. The
    scheduler sends it on a timer, and adapters before showing executions. It changes
    executions, so it needs the permission to run pipelines (the reaper acts as the system)."""

    permission = Permission.PIPELINE_RUN


#: Tries of a cancel request against heartbeats saving the same execution.
CANCEL_ATTEMPTS = 5


class CancelExecution(Command):
    permission = Permission.PIPELINE_RUN

    execution_id: str


async def queue_run(
    ctx: HandlerContext,
    pipeline: Pipeline,
    *,
    executor: ExecutorPort,
    settings: FlxSettings,
    trigger: str,
    requested_by: str | None = None,
    full_refresh: bool = False,
    refresh_catalog: bool = False,
    timeout: float | None = None,
    scheduled_for: datetime | None = None,
    attempt: int = 1,
    retry_of: str | None = None,
    not_before: datetime | None = None,
    idempotency_key: str | None = None,
    execution_id: str | None = None,
) -> PipelineExecution:
    """A queued execution of ``pipeline`` (in ``ctx.uow``), submitted to ``executor`` once
    the transaction commits. Raises AlreadyRunning under the pipeline's reject policy."""
    await load_run_plugins(ctx.uow, pipeline)  # refuse a pipeline whose plugins are gone
    home = settings.home_path
    execution = await request_run(
        ctx.uow,
        pipeline,
        settings=settings,
        now=ctx.clock.now(),
        trigger=trigger,
        requested_by=requested_by or ctx.principal.subject,
        full_refresh=full_refresh,
        log_path_for=lambda eid: str(log_path(home, pipeline.name, eid)),
        scheduled_for=scheduled_for,
        attempt=attempt,
        retry_of=retry_of,
        not_before=not_before,
        idempotency_key=idempotency_key,
        execution_id=execution_id,
    )
    request = RunRequest(
        execution_id=execution.id,
        pipeline_id=pipeline.id,
        principal=ctx.principal,
        full_refresh=full_refresh,
        refresh_catalog=refresh_catalog,
        timeout=timeout,
        queue=pipeline.queue,
        not_before=not_before,
    )
    ctx.after_commit(lambda: executor.submit(request))
    return execution


@handlers.command(RunPipeline)
async def run_pipeline(
    cmd: RunPipeline, ctx: HandlerContext, *, executor: ExecutorPort, settings: FlxSettings
) -> ServiceResult[PipelineExecution]:
    pipeline = await load_pipeline(ctx.uow, cmd.pipeline)
    execution_id = None
    if cmd.idempotency_key is not None:
        execution_id = new_id()
        earlier = await ctx.uow.get(IdempotencyKeyRepository).reserve(
            cmd.idempotency_key, pipeline.id, execution_id, ctx.clock.now()
        )
        if earlier is not None:
            return ServiceResult.success(await _earlier(ctx, cmd, pipeline, *earlier))
    execution = await queue_run(
        ctx,
        pipeline,
        executor=executor,
        settings=settings,
        trigger=cmd.trigger,
        full_refresh=cmd.full_refresh,
        refresh_catalog=cmd.refresh_catalog,
        timeout=cmd.timeout,
        idempotency_key=cmd.idempotency_key,
        execution_id=execution_id,
    )
    return ServiceResult.success(execution)


async def _earlier(
    ctx: HandlerContext, cmd: RunPipeline, pipeline: Pipeline, pipeline_id: str, execution_id: str
) -> PipelineExecution:
    if pipeline_id != pipeline.id:
        raise ValidationFailed(
            f"idempotency key {cmd.idempotency_key!r} was used within 24 hours for another "
            "pipeline; use a new key for this request",
            field="idempotency_key",
        )
    execution = await ctx.uow.executions.get(execution_id)
    if execution is None:
        raise NotFound(f"execution {execution_id} of idempotency key was deleted")
    return execution


@handlers.command(RetryExecution)
async def retry_execution(
    cmd: RetryExecution, ctx: HandlerContext, *, executor: ExecutorPort, settings: FlxSettings
) -> ServiceResult[PipelineExecution]:
    previous = await find_execution(ctx, cmd.execution_id)
    if not previous.status.is_terminal or previous.status.value == "succeeded":
        raise ValidationFailed(
            f"execution {previous.id[:12]} is {previous.status.value}: only a failed or "
            "cancelled execution can be retried",
            execution=previous.id,
        )
    pipeline = await load_pipeline(ctx.uow, previous.pipeline_id)
    first = previous.retry_of or previous.id
    attempts = await ctx.uow.executions.list(ExecutionFilter(retry_of=first), limit=1)
    last = max([previous.attempt, *(e.attempt for e in attempts.items)])
    execution = await queue_run(
        ctx,
        pipeline,
        executor=executor,
        settings=settings,
        trigger="retry",
        full_refresh=previous.full_refresh,
        attempt=last + 1,
        retry_of=first,
    )
    return ServiceResult.success(execution)


class Reaped(DomainValueObject):
    """What a reaper pass did: the executions it failed, and the retries it queued."""

    reaped: list[str]
    retries: list[str]
    #: False when the retries were left queued for the caller to hand to a process that
    #: outlives it (a short-lived `flx` command with the local executor cannot run them).
    submitted: bool


@handlers.command(ReapDeadExecutions)
async def reap_dead_executions(
    cmd: ReapDeadExecutions,
    ctx: HandlerContext,
    *,
    executor: ExecutorPort,
    settings: FlxSettings,
    background: bool,
) -> ServiceResult[Reaped]:
    reaped, retries = await reap_dead(ctx.uow, now=ctx.clock.now(), settings=settings)
    if background:
        for request in retries:
            ctx.after_commit(lambda request=request: executor.submit(request))
    return ServiceResult.success(
        Reaped(reaped=reaped, retries=[r.execution_id for r in retries], submitted=background)
    )


@handlers.command(CancelExecution)
async def cancel_execution(
    cmd: CancelExecution, ctx: HandlerContext, *, executor: ExecutorPort
) -> ServiceResult[PipelineExecution]:
    for attempt in range(CANCEL_ATTEMPTS):
        execution = await find_execution(ctx, cmd.execution_id)
        execution.request_cancel()
        try:
            await ctx.uow.executions.save(execution)
            break
        except ConcurrencyConflict:
            # The run's heartbeat saved it meanwhile: read it again and ask again.
            execution.pull_events()  # the stale copy's events are not to be recorded
            if attempt == CANCEL_ATTEMPTS - 1:
                raise
    if execution.status.is_terminal:  # it was queued: it never starts; free its pipeline
        await ctx.uow.get(RunLockRepository).release(execution.pipeline_id, execution.id)
    ctx.after_commit(lambda: executor.cancel(execution.id))
    return ServiceResult.success(execution)
