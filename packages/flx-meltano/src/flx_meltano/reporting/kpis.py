"""The reads behind the pipelines' KPIs, aggregated in the database.

The executions table grows without bound (a busy installation holds millions of rows), so
every read here either seeks an index or scans only a recent window of it:

- the newest execution and the newest success of a pipeline: a backward walk of
  ``(pipeline_id, created_at)`` per pipeline, stopping at the first match;
- the 24 h / 7 d counts and the records per day: a range of ``created_at``;
- running and queued: the ``status`` index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flx_core.infrastructure.persistence.tables import executions, pipelines
from flx_meltano.reporting.sql import day_of

#: The statuses a run counts in a success rate with: cancelled runs were stopped by
#: someone, and say nothing of the pipeline's health.
RATED = ("succeeded", "failed")
WAITING = ("pending", "queued")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class PipelineFacts:
    """What the database says of one pipeline."""

    id: str
    name: str
    enabled: bool
    schedule: str | None
    timezone: str
    created_at: datetime
    last_status: str | None
    last_run_at: datetime | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class WindowCounts:
    runs_24h: int = 0
    succeeded_24h: int = 0
    runs_7d: int = 0
    succeeded_7d: int = 0


class KpiRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pipelines(self, name: str | None = None) -> list[PipelineFacts]:
        """Each pipeline (or the one named) with its newest execution and newest success."""
        p, e = pipelines.c, executions.c
        newest = executions.alias("newest")
        success = executions.alias("success")
        last_id = (
            select(newest.c.id)
            .where(newest.c.pipeline_id == p.id)
            .order_by(newest.c.created_at.desc(), newest.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        last_success = (
            select(func.coalesce(success.c.finished_at, success.c.created_at))
            .where(success.c.pipeline_id == p.id, success.c.status == "succeeded")
            .order_by(success.c.created_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = (
            select(
                p.id,
                p.name,
                p.enabled,
                p.schedule,
                p.timezone,
                p.created_at,
                e.status.label("last_status"),
                e.created_at.label("last_run_at"),
                last_success.label("last_success_at"),
            )
            .select_from(pipelines.outerjoin(executions, e.id == last_id))
            .order_by(p.name)
        )
        if name is not None:
            query = query.where(p.name == name)
        return [
            PipelineFacts(
                id=r.id,
                name=r.name,
                enabled=bool(r.enabled),
                schedule=r.schedule or None,
                timezone=r.timezone,
                created_at=_utc(r.created_at) or datetime.now(UTC),
                last_status=r.last_status,
                last_run_at=_utc(r.last_run_at),
                last_success_at=_utc(r.last_success_at),
            )
            for r in (await self.session.execute(query)).all()
        ]

    async def window_counts(
        self, day_ago: datetime, week_ago: datetime, pipeline_id: str | None = None
    ) -> dict[str, WindowCounts]:
        """Rated runs and successes per pipeline created since ``day_ago`` / ``week_ago``."""
        e = executions.c
        recent = e.created_at >= day_ago.astimezone(UTC)
        ok = e.status == "succeeded"
        query = (
            select(
                e.pipeline_id,
                func.count().label("runs_7d"),
                func.sum(case((ok, 1), else_=0)).label("succeeded_7d"),
                func.sum(case((recent, 1), else_=0)).label("runs_24h"),
                func.sum(case((recent & ok, 1), else_=0)).label("succeeded_24h"),
            )
            .where(e.created_at >= week_ago.astimezone(UTC), e.status.in_(RATED))
            .group_by(e.pipeline_id)
        )
        if pipeline_id is not None:
            query = query.where(e.pipeline_id == pipeline_id)
        return {
            r.pipeline_id: WindowCounts(
                runs_24h=int(r.runs_24h or 0),
                succeeded_24h=int(r.succeeded_24h or 0),
                runs_7d=int(r.runs_7d or 0),
                succeeded_7d=int(r.succeeded_7d or 0),
            )
            for r in (await self.session.execute(query)).all()
        }

    async def records_per_day(
        self, since: datetime, pipeline_id: str | None = None
    ) -> dict[date, int]:
        """Records moved by the executions created since ``since``, per UTC day."""
        e = executions.c
        day = day_of(e.created_at, self.session.get_bind().dialect).label("day")
        query = (
            select(day, func.sum(e.records).label("records"))
            .where(e.created_at >= since.astimezone(UTC))
            .group_by(day)
        )
        if pipeline_id is not None:
            query = query.where(e.pipeline_id == pipeline_id)
        found: dict[date, int] = {}
        for r in (await self.session.execute(query)).all():
            value: Any = r.day
            when = value if isinstance(value, date) else date.fromisoformat(str(value))
            found[when] = int(r.records or 0)
        return found

    async def active(self, pipeline_id: str | None = None) -> tuple[int, int]:
        """(running, waiting: pending or queued) executions."""
        e = executions.c
        query = (
            select(e.status, func.count().label("n"))
            .where(e.status.in_(("running", *WAITING)))
            .group_by(e.status)
        )
        if pipeline_id is not None:
            query = query.where(e.pipeline_id == pipeline_id)
        counts = {r.status: int(r.n) for r in (await self.session.execute(query)).all()}
        return counts.get("running", 0), sum(counts.get(s, 0) for s in WAITING)
