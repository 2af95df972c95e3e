"""Pipelines: list (filter, search, last run, next run), detail, create and edit forms,
run now, enable and disable, delete with confirmation."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST
from pydantic import ValidationError

from flx_core.application import (
    CreatePipeline,
    DeletePipeline,
    GetPipeline,
    ListExecutions,
    ListPipelines,
    ListPlugins,
    UpdatePipeline,
    describe_validation_error,
)
from flx_core.domain import Pipeline, PluginType
from flx_core.domain.ports import PipelineFilter
from flx_meltano import GetPipelineKpis, GetState, RunPipeline
from flx_web.bus import Caller, Refused
from flx_web.forms import PipelineForm, refused_into
from flx_web.views.base import back, caller_of, page

PAGE_SIZE = 50


async def _secret_names(bus: Caller) -> dict[str, frozenset[str]]:
    return {p.name: p.secret_names for p in await bus(ListPlugins())}


async def _plugin_names(bus: Caller) -> tuple[list[str], list[str]]:
    plugins = await bus(ListPlugins())
    extractors = sorted(p.name for p in plugins if p.plugin_type == PluginType.EXTRACTOR)
    loaders = sorted(p.name for p in plugins if p.plugin_type == PluginType.LOADER)
    return extractors, loaders


@page
async def pipeline_list(request: HttpRequest) -> HttpResponse:
    bus = caller_of(request)
    search = (request.GET.get("q") or "").strip()
    enabled = request.GET.get("enabled") or ""
    flt = PipelineFilter(
        name_contains=search or None,
        enabled={"yes": True, "no": False}.get(enabled),
        extractor=request.GET.get("extractor") or None,
        loader=request.GET.get("loader") or None,
        tag=request.GET.get("tag") or None,
    )
    found = await bus(
        ListPipelines(filter=flt, limit=PAGE_SIZE, cursor=request.GET.get("cursor") or None)
    )
    kpis = {k.pipeline: k for k in (await bus(GetPipelineKpis())).pipelines}
    rows = [(p, kpis.get(p.name)) for p in found.items]
    context = {
        "section": "pipelines",
        "rows": rows,
        "next_cursor": found.next_cursor,
        "first_page": not request.GET.get("cursor"),
        "search": search,
        "enabled": enabled,
    }
    return render(request, "flx_web/pipelines/list.html", context)


@page
async def pipeline_detail(request: HttpRequest, name: str) -> HttpResponse:
    bus = caller_of(request)
    pipeline: Pipeline = await bus(GetPipeline(pipeline=name))
    config = pipeline.masked_config(await _secret_names(bus))
    recent = await bus(ListExecutions(pipeline=pipeline.id, limit=10))
    state_id = pipeline.state_id or pipeline.name
    state = None
    try:
        state = await bus(GetState(state_id=state_id))
    except Refused as exc:
        if exc.code not in ("not_found", "permission_denied"):
            raise
    kpi = (await bus(GetPipelineKpis(pipeline=pipeline.name))).pipelines
    context = {
        "section": "pipelines",
        "pipeline": pipeline,
        "config": config,
        "executions": recent.items,
        "state": state,
        "state_id": state_id,
        "kpi": kpi[0] if kpi else None,
    }
    return render(request, "flx_web/pipelines/detail.html", context)


def _initial(pipeline: Pipeline, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": pipeline.name,
        "description": pipeline.description,
        "extractor": pipeline.extractor,
        "loader": pipeline.loader,
        "mappers": ", ".join(pipeline.mappers),
        "config": json.dumps(config, indent=2),
        "select": "\n".join(pipeline.select),
        "schedule": pipeline.schedule.value if pipeline.schedule else "",
        "timezone": pipeline.timezone,
        "tags": ", ".join(pipeline.tags),
        "retries": pipeline.retries,
        "enabled": pipeline.enabled,
    }


def _form_page(
    request: HttpRequest, form: PipelineForm, pipeline: Pipeline | None, status: int = 200
) -> HttpResponse:
    if pipeline is not None:
        form.fields["name"].disabled = True
    context = {"section": "pipelines", "form": form, "pipeline": pipeline}
    return render(request, "flx_web/pipelines/form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@page
async def pipeline_new(request: HttpRequest) -> HttpResponse:
    bus = caller_of(request)
    extractors, loaders = await _plugin_names(bus)
    if request.method == "GET":
        form = PipelineForm(extractors=extractors, loaders=loaders)
        return _form_page(request, form, None)
    form = PipelineForm(request.POST, extractors=extractors, loaders=loaders)
    if not form.is_valid():
        return _form_page(request, form, None, status=422)
    try:
        created: Pipeline = await bus(CreatePipeline(**form.fields_for_bus()))
    except ValidationError as exc:
        refused_into(form, _invalid(exc))
        return _form_page(request, form, None, status=422)
    except Refused as exc:
        if exc.code in ("permission_denied", "unauthenticated"):
            raise
        refused_into(form, exc)
        return _form_page(request, form, None, status=exc.status)
    messages.success(request, f"Pipeline {created.name} created.")
    return HttpResponseRedirect(f"/pipelines/{created.name}/")


def _invalid(exc: ValidationError) -> Refused:
    from flx_core.domain import ServiceResult

    return Refused(ServiceResult.failure(describe_validation_error(exc), "invalid"))


@require_http_methods(["GET", "POST"])
@page
async def pipeline_edit(request: HttpRequest, name: str) -> HttpResponse:
    bus = caller_of(request)
    pipeline: Pipeline = await bus(GetPipeline(pipeline=name))
    extractors, loaders = await _plugin_names(bus)
    if request.method == "GET":
        config = pipeline.masked_config(await _secret_names(bus))
        form = PipelineForm(
            initial=_initial(pipeline, config), extractors=extractors, loaders=loaders
        )
        return _form_page(request, form, pipeline)
    form = PipelineForm(request.POST, extractors=extractors, loaders=loaders)
    form.fields["name"].disabled = True
    form.fields["name"].initial = pipeline.name
    if not form.is_valid():
        return _form_page(request, form, pipeline, status=422)
    changes = form.fields_for_bus()
    changes.pop("name")
    version = request.POST.get("version") or ""
    try:
        await bus(
            UpdatePipeline(
                pipeline=pipeline.id,
                changes=changes,
                expected_version=int(version) if version.isdigit() else None,
            )
        )
    except Refused as exc:
        if exc.code in ("permission_denied", "unauthenticated", "not_found"):
            raise
        refused_into(form, exc)
        return _form_page(request, form, pipeline, status=exc.status)
    messages.success(request, f"Pipeline {pipeline.name} saved.")
    return HttpResponseRedirect(f"/pipelines/{pipeline.name}/")


@require_POST
@page
async def pipeline_run(request: HttpRequest, name: str) -> HttpResponse:
    bus = caller_of(request)
    execution = await bus(
        RunPipeline(
            pipeline=name,
            full_refresh=request.POST.get("full_refresh") == "on",
            trigger="manual",
        )
    )
    messages.success(request, f"Run {execution.id[:8]} of {name} queued.")
    return HttpResponseRedirect(f"/executions/{execution.id}/")


async def _switch(request: HttpRequest, name: str, enabled: bool) -> HttpResponse:
    bus = caller_of(request)
    await bus(UpdatePipeline(pipeline=name, changes={"enabled": enabled}))
    messages.success(request, f"Pipeline {name} {'enabled' if enabled else 'disabled'}.")
    return back(request, f"/pipelines/{name}/")


@require_POST
@page
async def pipeline_enable(request: HttpRequest, name: str) -> HttpResponse:
    return await _switch(request, name, True)


@require_POST
@page
async def pipeline_disable(request: HttpRequest, name: str) -> HttpResponse:
    return await _switch(request, name, False)


@require_http_methods(["GET", "POST"])
@page
async def pipeline_delete(request: HttpRequest, name: str) -> HttpResponse:
    """GET asks; POST with ``confirmed`` deletes."""
    bus = caller_of(request)
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        await bus(DeletePipeline(pipeline=name))
        messages.success(request, f"Pipeline {name} deleted.")
        return HttpResponseRedirect("/pipelines/")
    pipeline: Pipeline = await bus(GetPipeline(pipeline=name))
    context = {
        "title": f"Delete pipeline {pipeline.name}?",
        "question": "The pipeline and its schedule go; its past executions and state stay "
        "in the history.",
        "action": f"/pipelines/{pipeline.name}/delete/",
        "fields": {},
        "button": "Delete",
        "cancel": f"/pipelines/{pipeline.name}/",
    }
    return render(request, "flx_web/confirm.html", context)
