"""The pipelines' KPIs: success rates over 24 hours and 7 days, records moved per day,
freshness (time since the last success) and whether it is overdue against the schedule.

Overdue: the schedule had a cron time more than a grace ago (half the schedule's interval,
between one minute and one hour) and no run has succeeded since that time. Checking the
last cron time rather than a fixed interval keeps irregular schedules (weekdays only,
twice a day at uneven hours) from being reported overdue over the weekend.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice

from pydantic import Field, ValidationError

from flx_core.application import HandlerContext, Query
from flx_core.domain import (
    CronExpression,
    DomainValueObject,
    NotFound,
    Permission,
    ServiceResult,
)
from flx_meltano.application.module import handlers
from flx_meltano.reporting.kpis import KpiRepository, PipelineFacts, WindowCounts
from flx_meltano.scheduling.times import fire_times, latest_fire_times

handlers.sql_repositories[KpiRepository] = KpiRepository

#: Days of ``records_per_day``.
DAYS = 14
MIN_GRACE = timedelta(minutes=1)
MAX_GRACE = timedelta(hours=1)


class GetPipelineKpis(Query):
    """The KPIs of every pipeline, or of the one named."""

    permission = Permission.PIPELINE_READ

    pipeline: str | None = Field(default=None, description="One pipeline's name, or all")


class PipelineKpi(DomainValueObject):
    pipeline: str
    enabled: bool
    #: Status of the newest execution.
    last_status: str | None = None
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    #: Seconds since ``last_success_at``.
    freshness_seconds: float | None = None
    #: Seconds between the schedule's next two cron times; None without a schedule.
    expected_interval_seconds: float | None = None
    overdue: bool = False
    next_run_at: datetime | None = None
    runs_24h: int = 0
    succeeded_24h: int = 0
    success_rate_24h: float | None = None
    runs_7d: int = 0
    succeeded_7d: int = 0
    success_rate_7d: float | None = None


class DailyRecords(DomainValueObject):
    day: date
    records: int


class KpiReport(DomainValueObject):
    generated_at: datetime
    pipelines: list[PipelineKpi]
    #: The last 14 UTC days, oldest first, days without runs as zero.
    records_per_day: list[DailyRecords]
    running: int
    queued: int


def _rate(succeeded: int, runs: int) -> float | None:
    return succeeded / runs if runs else None


def grace(interval: timedelta) -> timedelta:
    return min(max(interval / 2, MIN_GRACE), MAX_GRACE)


def _schedule_facts(
    facts: PipelineFacts, now: datetime
) -> tuple[float | None, datetime | None, bool]:
    """(expected interval in seconds, next run, overdue) from the pipeline's schedule."""
    if facts.schedule is None:
        return None, None, False
    try:
        cron = CronExpression(value=facts.schedule)
    except ValidationError:  # stored before the rules tightened: no schedule to judge by
        return None, None, False
    nxt, after = islice(fire_times(cron, facts.timezone, now), 2)
    interval = after - nxt
    if not facts.enabled:
        return interval.total_seconds(), None, False
    due_by = now - grace(interval)
    # The latest cron time, since the pipeline exists, that should have had a run by now
    # (latest_fire_times looks back from ``due_by``, so a long history costs nothing).
    found, _ = (
        latest_fire_times(cron, facts.timezone, facts.created_at, due_by, 1)
        if due_by > facts.created_at
        else ([], False)
    )
    overdue = bool(found) and (facts.last_success_at is None or facts.last_success_at < found[-1])
    return interval.total_seconds(), nxt, overdue


def pipeline_kpi(facts: PipelineFacts, counts: WindowCounts, now: datetime) -> PipelineKpi:
    interval, next_run, overdue = _schedule_facts(facts, now)
    freshness = (
        None if facts.last_success_at is None else (now - facts.last_success_at).total_seconds()
    )
    return PipelineKpi(
        pipeline=facts.name,
        enabled=facts.enabled,
        last_status=facts.last_status,
        last_run_at=facts.last_run_at,
        last_success_at=facts.last_success_at,
        freshness_seconds=freshness,
        expected_interval_seconds=interval,
        overdue=overdue,
        next_run_at=next_run,
        runs_24h=counts.runs_24h,
        succeeded_24h=counts.succeeded_24h,
        success_rate_24h=_rate(counts.succeeded_24h, counts.runs_24h),
        runs_7d=counts.runs_7d,
        succeeded_7d=counts.succeeded_7d,
        success_rate_7d=_rate(counts.succeeded_7d, counts.runs_7d),
    )


@handlers.query(GetPipelineKpis)
async def get_pipeline_kpis(qry: GetPipelineKpis, ctx: HandlerContext) -> ServiceResult[KpiReport]:
    now = ctx.clock.now().astimezone(UTC)
    repo = ctx.uow.get(KpiRepository)
    facts = await repo.pipelines(qry.pipeline)
    if qry.pipeline is not None and not facts:
        raise NotFound(f"pipeline {qry.pipeline!r} not found", pipeline=qry.pipeline)
    only = facts[0].id if qry.pipeline is not None else None
    counts = await repo.window_counts(now - timedelta(days=1), now - timedelta(days=7), only)
    today = now.date()
    first = today - timedelta(days=DAYS - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    per_day = await repo.records_per_day(since, only)
    running, queued = await repo.active(only)
    return ServiceResult.success(
        KpiReport(
            generated_at=now,
            pipelines=[pipeline_kpi(f, counts.get(f.id, WindowCounts()), now) for f in facts],
            records_per_day=[
                DailyRecords(day=d, records=per_day.get(d, 0))
                for d in (first + timedelta(days=i) for i in range(DAYS))
            ],
            running=running,
            queued=queued,
        )
    )
