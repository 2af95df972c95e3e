"""Plugins: list, add, register the built-in ones, settings (secrets masked), install in
the background with its progress, and the streams of a tap."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST
from pydantic import ValidationError

from flx_core.application import AddPlugin, GetPlugin, ListPlugins, describe_validation_error
from flx_core.domain import Plugin, ServiceResult
from flx_meltano import (
    GetInstallJob,
    GetPluginConfig,
    ListStreams,
    RegisterBuiltinPlugins,
    RequestPluginInstall,
)
from flx_web.bus import Refused
from flx_web.forms import PluginForm, refused_into
from flx_web.views.base import caller_of, page


def masked(plugin: Plugin) -> Plugin:
    return plugin.model_copy(update={"config": plugin.masked(dict(plugin.config))})


@page
async def plugin_list(request: HttpRequest) -> HttpResponse:
    plugins = await caller_of(request)(ListPlugins())
    rows = sorted((masked(p) for p in plugins), key=lambda p: (p.plugin_type.value, p.name))
    return render(request, "flx_web/plugins/list.html", {"section": "plugins", "plugins": rows})


@require_http_methods(["GET", "POST"])
@page
async def plugin_new(request: HttpRequest) -> HttpResponse:
    bus = caller_of(request)
    form = PluginForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                plugin: Plugin = await bus(AddPlugin(**form.fields_for_bus()))
            except ValidationError as exc:
                refused_into(
                    form, Refused(ServiceResult.failure(describe_validation_error(exc), "invalid"))
                )
            except Refused as exc:
                if exc.code in ("permission_denied", "unauthenticated"):
                    raise
                refused_into(form, exc)
                status = exc.status
            else:
                messages.success(request, f"Plugin {plugin.name} added.")
                return HttpResponseRedirect(f"/plugins/{plugin.name}/")
    context = {"section": "plugins", "form": form}
    return render(request, "flx_web/plugins/form.html", context, status=status)


@require_POST
@page
async def plugin_builtin(request: HttpRequest) -> HttpResponse:
    await caller_of(request)(RegisterBuiltinPlugins())
    messages.success(request, "Built-in connectors registered.")
    return HttpResponseRedirect("/plugins/")


@page
async def plugin_detail(request: HttpRequest, name: str) -> HttpResponse:
    bus = caller_of(request)
    plugin: Plugin = await bus(GetPlugin(name=name))
    settings = await bus(GetPluginConfig(name=name))
    context = {"section": "plugins", "plugin": masked(plugin), "settings": settings}
    return render(request, "flx_web/plugins/detail.html", context)


@require_POST
@page
async def plugin_install(request: HttpRequest, name: str) -> HttpResponse:
    job = await caller_of(request)(
        RequestPluginInstall(names=[name], force=request.POST.get("force") == "on")
    )
    return HttpResponseRedirect(f"/plugins/install/{job.id}/")


@page
async def install_job(request: HttpRequest, job_id: str) -> HttpResponse:
    job = await caller_of(request)(GetInstallJob(job_id=job_id))
    return render(request, "flx_web/plugins/install.html", {"section": "plugins", "job": job})


@page
async def install_progress(request: HttpRequest, job_id: str) -> HttpResponse:
    job = await caller_of(request)(GetInstallJob(job_id=job_id))
    return render(request, "flx_web/plugins/progress.html", {"job": job})


@page
async def plugin_streams(request: HttpRequest, name: str) -> HttpResponse:
    """The streams of a tap's catalog (discovery runs the tap), and what a pipeline
    selects of them when one is named."""
    bus = caller_of(request)
    pipeline = (request.GET.get("pipeline") or "").strip() or None
    listing = await bus(
        ListStreams(plugin=name, pipeline=pipeline, refresh=request.GET.get("refresh") == "1")
    )
    context = {"section": "plugins", "listing": listing, "name": name, "pipeline": pipeline}
    return render(request, "flx_web/plugins/streams.html", context)
