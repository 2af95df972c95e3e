"""The scheduler's tables: one row per (pipeline, cron time) fired, and light reads of the
pipelines that have a schedule.

The fire row's primary key is what makes a time fire once however many schedulers run: it
is inserted in the transaction that queues the execution, so of two schedulers firing the
same time, the second waits on the first's row and then fails to insert its own.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from pydantic import ValidationError
from sqlalchemy import Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flx_core.domain import ConcurrencyConflict, CronExpression, DomainValueObject
from flx_core.infrastructure.persistence.tables import executions, pipelines
from flx_meltano.tables import schedule_fires, scheduler_ticks

log = structlog.get_logger(__name__)

Outcome = Literal["queued", "skipped", "failed"]

#: The tick rows of schedulers silent for longer than this are dropped.
TICK_RETENTION = timedelta(days=7)


class AlreadyFired(ConcurrencyConflict):
    """Another scheduler fired this (pipeline, time) first."""

    code = "already_fired"


class ScheduleFire(DomainValueObject):
    """A cron time of a pipeline that was fired, and what came of it: ``queued`` (with the
    execution), ``skipped`` (a run was active; the note names it) or ``failed`` (the run
    could not be requested; the note says why)."""

    pipeline_id: str
    scheduled_for: datetime
    fired_at: datetime
    outcome: str
    execution_id: str | None = None
    note: str = ""
    scheduler: str = ""

    @property
    def lag(self) -> float:
        """Seconds from the cron time to the fire."""
        return (self.fired_at - self.scheduled_for).total_seconds()


class ScheduledPipeline(DomainValueObject):
    """What the scheduler needs of a pipeline (not its config, which it never reads)."""

    id: str
    name: str
    schedule: CronExpression
    timezone: str
    catchup: str
    enabled: bool
    updated_at: datetime


class LastRun(DomainValueObject):
    id: str
    status: str
    trigger: str
    created_at: datetime


def _utc(value: datetime) -> datetime:
    """A stored time in UTC (SQLite gives them back naive, PostgreSQL in its session's
    timezone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fire(row: Any) -> ScheduleFire:
    m = dict(row._mapping)
    for key in ("scheduled_for", "fired_at"):  # in UTC, whatever the session's timezone
        m[key] = _utc(m[key])
    return ScheduleFire.model_validate(m)


def _latest_per_pipeline(pipeline_ids: Collection[str], newest: Select[Any]) -> Any:
    """(pid, at) for each pipeline of ``pipeline_ids``: ``newest`` (a ``max`` correlated
    with ``pipelines.id``) per pipeline, so each is one backward index lookup rather than a
    scan of the pipeline's whole history."""
    return (
        select(pipelines.c.id.label("pid"), newest.scalar_subquery().label("at"))
        .where(pipelines.c.id.in_(list(pipeline_ids)))
        .subquery()
    )


class ScheduleFireRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(
        self,
        pipeline_id: str,
        scheduled_for: datetime,
        fired_at: datetime,
        scheduler: str,
        execution_id: str,
    ) -> ScheduleFire:
        """Insert the fire row, ``queued`` as ``execution_id`` (its id, before it exists), in
        a savepoint; or raise AlreadyFired when the row exists. On PostgreSQL the insert
        waits for a transaction holding the same row to end, then fails if it committed."""
        fire = ScheduleFire(
            pipeline_id=pipeline_id,
            scheduled_for=scheduled_for.astimezone(UTC),
            fired_at=fired_at.astimezone(UTC),
            outcome="queued",
            execution_id=execution_id,
            scheduler=scheduler,
        )
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(schedule_fires).values(**fire.model_dump()))
        except IntegrityError:
            raise AlreadyFired(
                f"{scheduled_for.isoformat()} of this pipeline was fired already",
                pipeline=pipeline_id,
                scheduled_for=scheduled_for.isoformat(),
            ) from None
        return fire

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        """A nested transaction: what is written inside it is undone if it raises, while
        the fire row claimed before stays."""
        return self.session.begin_nested()

    async def record(self, fire: ScheduleFire, outcome: Outcome, note: str) -> ScheduleFire:
        """The claimed ``fire`` did not queue its execution: why (it has none)."""
        await self.session.execute(
            update(schedule_fires)
            .where(
                schedule_fires.c.pipeline_id == fire.pipeline_id,
                schedule_fires.c.scheduled_for == fire.scheduled_for,
            )
            .values(outcome=outcome, execution_id=None, note=note)
        )
        return fire.model_copy(update={"outcome": outcome, "execution_id": None, "note": note})

    async def latest(self, pipeline_ids: Collection[str]) -> dict[str, ScheduleFire]:
        """The last fire of each of ``pipeline_ids`` that has one (an index lookup each)."""
        if not pipeline_ids:
            return {}
        c = schedule_fires.c
        newest = schedule_fires.alias("newest")
        last = _latest_per_pipeline(
            pipeline_ids,
            select(func.max(newest.c.scheduled_for)).where(newest.c.pipeline_id == pipelines.c.id),
        )
        query = select(schedule_fires).join(
            last, and_(c.pipeline_id == last.c.pid, c.scheduled_for == last.c.at)
        )
        return {row.pipeline_id: _fire(row) for row in (await self.session.execute(query)).all()}

    async def fires(self, pipeline_id: str, limit: int = 100) -> list[ScheduleFire]:
        """The fires of a pipeline, the latest first."""
        query = (
            select(schedule_fires)
            .where(schedule_fires.c.pipeline_id == pipeline_id)
            .order_by(schedule_fires.c.scheduled_for.desc())
            .limit(limit)
        )
        return [_fire(row) for row in (await self.session.execute(query)).all()]

    async def record_tick(self, scheduler: str, at: datetime) -> None:
        """Record that ``scheduler`` went round at ``at`` (one row per scheduler; rows of
        schedulers silent for a week are dropped)."""
        c = scheduler_ticks.c
        at = at.astimezone(UTC)
        updated = await self.session.execute(
            update(scheduler_ticks).where(c.scheduler == scheduler).values(ticked_at=at)
        )
        if not updated.rowcount:  # type: ignore[attr-defined]
            await self.session.execute(
                insert(scheduler_ticks).values(scheduler=scheduler, ticked_at=at)
            )
        await self.session.execute(delete(scheduler_ticks).where(c.ticked_at < at - TICK_RETENTION))

    async def last_tick(self) -> datetime | None:
        """When any scheduler last went round (None: none ever did)."""
        found = await self.session.scalar(select(func.max(scheduler_ticks.c.ticked_at)))
        return _utc(found) if found is not None else None

    async def unattended(self, before: datetime) -> tuple[int, int]:
        """Executions no live process looks after since ``before``: running ones whose
        heartbeat stopped, and queued ones (due, never held or held no more) that no worker
        took. The reaper deals with the first kind; the second means no worker consumes
        their queue."""
        c = executions.c
        before = before.astimezone(UTC)
        stale = or_(c.heartbeat_at.is_(None), c.heartbeat_at < before)
        running = await self.session.scalar(
            select(func.count()).where(c.status == "running", stale)
        )
        waiting = await self.session.scalar(
            select(func.count()).where(
                c.status == "queued",
                c.created_at < before,
                or_(c.not_before.is_(None), c.not_before < before),
                stale,
            )
        )
        return int(running or 0), int(waiting or 0)

    async def prune(self, before: datetime) -> int:
        """Delete fires older than ``before``, keeping each pipeline's last one (its
        catch-up baseline); how many went."""
        c = schedule_fires.c
        newest = schedule_fires.alias("newest")
        keep = (
            select(func.max(newest.c.scheduled_for))
            .where(newest.c.pipeline_id == c.pipeline_id)
            .scalar_subquery()
        )
        result = await self.session.execute(
            delete(schedule_fires).where(
                c.scheduled_for < before.astimezone(UTC), c.scheduled_for < keep
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def scheduled_pipelines(self, *, enabled_only: bool = True) -> list[ScheduledPipeline]:
        """Pipelines with a schedule: a few columns, read in one query."""
        c = pipelines.c
        query = select(
            c.id, c.name, c.schedule, c.timezone, c.catchup, c.enabled, c.updated_at
        ).where(c.schedule.is_not(None), c.schedule != "")
        if enabled_only:
            query = query.where(c.enabled.is_(True))
        found = []
        for r in (await self.session.execute(query.order_by(c.name))).all():
            try:
                schedule = CronExpression(value=r.schedule)
            except ValidationError:  # stored before the rules tightened: say so, go on
                log.warning("schedule_unreadable", pipeline=r.name, schedule=r.schedule)
                continue
            found.append(
                ScheduledPipeline(
                    id=r.id,
                    name=r.name,
                    schedule=schedule,
                    timezone=r.timezone,
                    catchup=r.catchup,
                    enabled=r.enabled,
                    updated_at=_utc(r.updated_at),
                )
            )
        return found

    async def last_runs(self, pipeline_ids: Collection[str]) -> dict[str, LastRun]:
        """The latest execution of each of ``pipeline_ids`` that ran (any trigger)."""
        if not pipeline_ids:
            return {}
        c = executions.c
        newest = executions.alias("newest")
        last = _latest_per_pipeline(
            pipeline_ids,
            select(func.max(newest.c.created_at)).where(newest.c.pipeline_id == pipelines.c.id),
        )
        query = select(c.id, c.pipeline_id, c.status, c.trigger, c.created_at).join(
            last, and_(c.pipeline_id == last.c.pid, c.created_at == last.c.at)
        )
        found: dict[str, LastRun] = {}
        for r in (await self.session.execute(query)).all():
            found[r.pipeline_id] = LastRun(
                id=r.id, status=r.status, trigger=r.trigger, created_at=_utc(r.created_at)
            )
        return found
