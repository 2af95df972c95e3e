"""The business metrics' data: one read of the run history for the ``/metrics`` endpoint
(see ``flx_observability.BusinessMetrics``, which caches it and bounds its cost)."""

from __future__ import annotations

from datetime import UTC, timedelta

from flx_core.application import HandlerContext, Query
from flx_core.config import FlxSettings
from flx_core.domain import Permission, ServiceResult
from flx_meltano.application.kpis import pipeline_kpi
from flx_meltano.application.module import handlers
from flx_meltano.reporting.kpis import KpiRepository, WindowCounts
from flx_meltano.reporting.settled import SettledTotals
from flx_meltano.reporting.totals import PipelineSums, TotalsRepository
from flx_meltano.scheduling.repository import ScheduleFireRepository
from flx_observability import BusinessSnapshot, PipelineTotals

handlers.sql_repositories[TotalsRepository] = TotalsRepository


class ReadBusinessMetrics(Query):
    """Totals of every execution, pipeline and stream, and the pipelines' KPIs."""

    permission = Permission.PIPELINE_READ


@handlers.query(ReadBusinessMetrics)
async def read_business_metrics(
    qry: ReadBusinessMetrics,
    ctx: HandlerContext,
    *,
    settings: FlxSettings,
    settled_totals: SettledTotals | None = None,
) -> ServiceResult[BusinessSnapshot]:
    """``settled_totals``: this process's totals of the history that no longer changes
    (without it, the whole history is read each time)."""
    now = ctx.clock.now().astimezone(UTC)
    totals = ctx.uow.get(TotalsRepository)
    kpis = ctx.uow.get(KpiRepository)
    if settled_totals is not None:
        executions, sums, streams = await settled_totals.read(totals, now)
    else:
        executions, sums = await totals.executions()
        streams = await totals.streams()
    facts = await kpis.pipelines()
    counts = await kpis.window_counts(now - timedelta(days=1), now - timedelta(days=7))
    pipelines = []
    for f in facts:
        k = pipeline_kpi(f, counts.get(f.id, WindowCounts()), now)
        s = sums.get(f.name, PipelineSums())
        pipelines.append(
            PipelineTotals(
                pipeline=f.name,
                enabled=f.enabled,
                records=s.records,
                bytes=s.bytes,
                state_commits=s.state_commits,
                running=s.running,
                queued=s.queued,
                success_rate_24h=k.success_rate_24h,
                success_rate_7d=k.success_rate_7d,
                last_success_timestamp=k.last_success_at.timestamp() if k.last_success_at else None,
                freshness_seconds=k.freshness_seconds,
                expected_interval_seconds=k.expected_interval_seconds,
                overdue=k.overdue,
                consecutive_failures=await totals.failures_in_a_row(f.id)
                if k.last_status not in (None, "succeeded")
                else 0,
            )
        )
    oldest = await totals.oldest_waiting()
    by_reason, lockouts = await totals.logins()
    schedules = ctx.uow.get(ScheduleFireRepository)
    last_tick = await schedules.last_tick()
    stale, untaken = await schedules.unattended(now - timedelta(seconds=settings.heartbeat_timeout))
    return ServiceResult.success(
        BusinessSnapshot(
            executions=executions,
            pipelines=pipelines,
            streams=streams,
            login_failures=by_reason,
            lockouts=lockouts,
            oldest_queued_seconds=None if oldest is None else (now - oldest).total_seconds(),
            scheduler_last_tick=None if last_tick is None else last_tick.timestamp(),
            unattended_running=stale,
            unattended_queued=untaken,
        )
    )
