"""Executions: the list (filters, pages), one run with its streams and live log, cancel,
retry."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from flx_core.application import GetExecution, ListExecutions
from flx_core.domain import ExecutionStatus
from flx_core.domain.ports import ExecutionFilter
from flx_meltano import CancelExecution, ReadExecutionLog, RetryExecution
from flx_web.views.base import back, caller_of, error_page, page

PAGE_SIZE = 25
#: The lines of the log a run's page shows before following it live.
TAIL_LINES = 200
TRIGGERS = ("manual", "schedule", "retry", "api")


@page
async def execution_list(request: HttpRequest) -> HttpResponse:
    bus = caller_of(request)
    status = request.GET.get("status") or ""
    trigger = request.GET.get("trigger") or ""
    pipeline = (request.GET.get("pipeline") or "").strip()
    statuses = [s.value for s in ExecutionStatus]
    if status and status not in statuses:
        return error_page(request, 422, f"status must be one of {', '.join(statuses)}")
    if trigger and trigger not in TRIGGERS:
        return error_page(request, 422, f"trigger must be one of {', '.join(TRIGGERS)}")
    flt = ExecutionFilter(
        statuses=frozenset({ExecutionStatus(status)} if status else ()),
        trigger=trigger or None,
    )
    found = await bus(
        ListExecutions(
            filter=flt,
            pipeline=pipeline or None,
            limit=PAGE_SIZE,
            cursor=request.GET.get("cursor") or None,
        )
    )
    context = {
        "section": "executions",
        "executions": found.items,
        "next_cursor": found.next_cursor,
        "statuses": statuses,
        "triggers": TRIGGERS,
        "chosen": {"status": status, "trigger": trigger, "pipeline": pipeline},
        "first_page": not request.GET.get("cursor"),
    }
    return render(request, "flx_web/executions/list.html", context)


@page
async def execution_detail(request: HttpRequest, execution_id: str) -> HttpResponse:
    bus = caller_of(request)
    log = await bus(ReadExecutionLog(execution_id=execution_id, tail=TAIL_LINES))
    execution = log.execution
    text = log.chunk.data.decode("utf-8", errors="replace")
    attempts = []
    first = execution.retry_of or execution.id
    if execution.retry_of or execution.status in (
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
    ):
        page_of = await bus(ListExecutions(filter=ExecutionFilter(retry_of=first), limit=20))
        attempts = [e for e in page_of.items if e.id != execution.id]
    context = {
        "section": "executions",
        "execution": execution,
        "streams": sorted(execution.stream_counts.items()),
        "log_text": text,
        "log_offset": log.chunk.next_offset,
        "log_complete": log.complete,
        "attempts": attempts,
    }
    return render(request, "flx_web/executions/detail.html", context)


@page
async def execution_summary(request: HttpRequest, execution_id: str) -> HttpResponse:
    """The part of a run's page that changes while it runs (the page reloads it)."""
    bus = caller_of(request)
    execution = await bus(GetExecution(execution_id=execution_id))
    context = {"execution": execution, "streams": sorted(execution.stream_counts.items())}
    return render(request, "flx_web/executions/summary.html", context)


@require_POST
@page
async def cancel(request: HttpRequest, execution_id: str) -> HttpResponse:
    bus = caller_of(request)
    execution = await bus(CancelExecution(execution_id=execution_id))
    messages.success(request, f"Cancel requested for run {execution.id[:8]}.")
    return back(request, f"/executions/{execution.id}/")


@require_POST
@page
async def retry(request: HttpRequest, execution_id: str) -> HttpResponse:
    bus = caller_of(request)
    execution = await bus(RetryExecution(execution_id=execution_id))
    messages.success(request, f"Retry queued: attempt {execution.attempt}.")
    return HttpResponseRedirect(f"/executions/{execution.id}/")
