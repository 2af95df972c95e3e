"""The dashboard: runs now (live), success rates, records moved per day, freshness per
pipeline, recent failures."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from flx_core.application import ListExecutions
from flx_core.domain import ExecutionStatus
from flx_core.domain.ports import ExecutionFilter
from flx_meltano import GetPipelineKpis, KpiReport
from flx_web.bus import Caller
from flx_web.charts import records_chart
from flx_web.views.base import caller_of, page

ACTIVE = frozenset({ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING})


def _rate(succeeded: int, runs: int) -> float | None:
    return succeeded / runs if runs else None


async def _live(bus: Caller) -> dict[str, Any]:
    report: KpiReport = await bus(GetPipelineKpis())
    active = await bus(ListExecutions(filter=ExecutionFilter(statuses=ACTIVE), limit=20))
    runs_24h = sum(k.runs_24h for k in report.pipelines)
    runs_7d = sum(k.runs_7d for k in report.pipelines)
    ok_24h = sum(k.succeeded_24h for k in report.pipelines)
    ok_7d = sum(k.succeeded_7d for k in report.pipelines)
    days = [(d.day, d.records) for d in report.records_per_day]
    return {
        "report": report,
        "active": active.items,
        "runs_24h": runs_24h,
        "runs_7d": runs_7d,
        "rate_24h": _rate(ok_24h, runs_24h),
        "rate_7d": _rate(ok_7d, runs_7d),
        "records_7d": sum(v for _, v in days[-7:]),
        "records_today": days[-1][1] if days else 0,
        "chart": records_chart(days),
        "overdue": sum(1 for k in report.pipelines if k.overdue),
    }


@page
async def dashboard(request: HttpRequest) -> HttpResponse:
    bus = caller_of(request)
    context = await _live(bus)
    failed = await bus(
        ListExecutions(
            filter=ExecutionFilter(statuses=frozenset({ExecutionStatus.FAILED})), limit=8
        )
    )
    context.update(section="dashboard", failures=failed.items)
    return render(request, "flx_web/dashboard.html", context)


@page
async def live(request: HttpRequest) -> HttpResponse:
    """The part of the dashboard that moves (the page reloads it every few seconds)."""
    return render(request, "flx_web/live.html", await _live(caller_of(request)))
