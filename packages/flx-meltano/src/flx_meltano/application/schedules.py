"""Schedules: firing a pipeline's cron time (once, whoever asks), and listing schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

from pydantic import AwareDatetime, Field

from flx_core.application import Command, HandlerContext, Query
from flx_core.config import FlxSettings
from flx_core.domain import (
    DomainError,
    DomainValueObject,
    NotFound,
    Permission,
    Pipeline,
    ServiceResult,
    ValidationFailed,
    new_id,
)
from flx_core.domain.ports import ExecutorPort
from flx_meltano.application.module import handlers
from flx_meltano.application.runs import queue_run
from flx_meltano.locks import AlreadyRunning
from flx_meltano.scheduling.repository import (
    LastRun,
    ScheduleFire,
    ScheduleFireRepository,
)
from flx_meltano.scheduling.times import fire_times, is_fire_time

handlers.sql_repositories[ScheduleFireRepository] = ScheduleFireRepository


class FireSchedule(Command):
    """Fire ``pipeline_id``'s schedule for its cron time ``scheduled_for``: record the fire
    and queue the run in one transaction.

    Several schedulers send the same command for the same time; the fire's row lets the
    first through and the others fail with ``already_fired``. A run that cannot be queued
    (one is active and the pipeline rejects a second, or its plugins are gone) is recorded
    as ``skipped`` or ``failed`` with the reason, so each time still has exactly one row.
    """

    permission = Permission.PIPELINE_RUN

    pipeline_id: str
    scheduled_for: AwareDatetime
    #: Who fires (recorded on the row): a scheduler's host and pid.
    scheduler: str = Field(default="scheduler", min_length=1, max_length=255)


class ListSchedules(Query):
    """Every pipeline with a schedule, its next cron times and what its last fire did."""

    permission = Permission.PIPELINE_READ

    next_count: int = Field(default=3, ge=0, le=100)


class ScheduleView(DomainValueObject):
    pipeline_id: str
    pipeline: str
    schedule: str
    timezone: str
    catchup: str
    enabled: bool
    #: The next cron times (UTC), none while the pipeline is disabled.
    next_fires: list[datetime] = Field(default_factory=list)
    last_fire: ScheduleFire | None = None
    last_run: LastRun | None = None


def _check_due(pipeline: Pipeline, when: datetime, now: datetime) -> None:
    """Refuse a time the pipeline's current schedule does not fire (a scheduler that has
    not seen a change yet, or a caller's mistake)."""
    if pipeline.schedule is None:
        raise ValidationFailed(f"pipeline {pipeline.name!r} has no schedule")
    if not pipeline.enabled:
        raise ValidationFailed(f"pipeline {pipeline.name!r} is disabled")
    if when > now:
        raise ValidationFailed(f"{when.isoformat()} has not come yet")
    if not is_fire_time(pipeline.schedule, pipeline.timezone, when):
        raise ValidationFailed(
            f"{when.isoformat()} is not a time of pipeline {pipeline.name!r}'s schedule "
            f"{pipeline.schedule.value!r} ({pipeline.timezone})"
        )


@handlers.command(FireSchedule)
async def fire_schedule(
    cmd: FireSchedule, ctx: HandlerContext, *, executor: ExecutorPort, settings: FlxSettings
) -> ServiceResult[ScheduleFire]:
    when = cmd.scheduled_for.astimezone(UTC)
    now = ctx.clock.now()
    fires = ctx.uow.get(ScheduleFireRepository)
    # The row first: a scheduler that lost the race stops here, having read nothing. If
    # the time turns out not to be due, the refusal rolls the row back with the rest.
    fire = await fires.claim(cmd.pipeline_id, when, now, cmd.scheduler, new_id())
    pipeline = await ctx.uow.pipelines.get(cmd.pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {cmd.pipeline_id!r} not found", pipeline=cmd.pipeline_id)
    _check_due(pipeline, when, now)
    try:
        # A refused request may have written part of an execution: the savepoint undoes
        # it, and the fire row stays to say why this time did not run.
        async with fires.savepoint():
            await queue_run(
                ctx,
                pipeline,
                executor=executor,
                settings=settings,
                trigger="schedule",
                requested_by="scheduler",
                scheduled_for=when,
                execution_id=fire.execution_id,
            )
    except AlreadyRunning as exc:
        active = exc.details.get("execution")
        note = f"execution {active} was still active" if active else exc.message
        return ServiceResult.success(await fires.record(fire, "skipped", note))
    except DomainError as exc:
        return ServiceResult.success(await fires.record(fire, "failed", exc.message))
    return ServiceResult.success(fire)


@handlers.query(ListSchedules)
async def list_schedules(
    qry: ListSchedules, ctx: HandlerContext
) -> ServiceResult[list[ScheduleView]]:
    repo = ctx.uow.get(ScheduleFireRepository)
    scheduled = await repo.scheduled_pipelines(enabled_only=False)
    ids = [p.id for p in scheduled]
    last_fires = await repo.latest(ids)
    last_runs = await repo.last_runs(ids)
    now = ctx.clock.now()
    views = [
        ScheduleView(
            pipeline_id=p.id,
            pipeline=p.name,
            schedule=p.schedule.value,
            timezone=p.timezone,
            catchup=p.catchup,
            enabled=p.enabled,
            next_fires=list(islice(fire_times(p.schedule, p.timezone, now), qry.next_count))
            if p.enabled
            else [],
            last_fire=last_fires.get(p.id),
            last_run=last_runs.get(p.id),
        )
        for p in scheduled
    ]
    return ServiceResult.success(views)
