"""PluginService: the connectors FLX installs and runs, their settings and streams, the
built-in connectors, and installs as background jobs. Secret settings are masked."""

from __future__ import annotations

from typing import Any, TypeAlias

from grpc import aio

from flx_core.application import (
    AddPlugin,
    GetPlugin,
    ListPlugins,
    RemovePlugin,
    SetPluginSetting,
    UnsetPluginSetting,
    UpdatePlugin,
)
from flx_core.domain import Plugin
from flx_grpc._caller import build, current
from flx_grpc._convert import masked_changes, plain, to_proto, to_protos
from flx_grpc._errors import invalid_field
from flx_grpc._generated.flx.v1 import plugin_service_pb2 as pb, plugin_service_pb2_grpc
from flx_meltano import (
    GetInstallJob,
    GetPluginConfig,
    ListStreams,
    RegisterBuiltinPlugins,
    RequestPluginInstall,
    builtin_plugins,
)

Context: TypeAlias = aio.ServicerContext[Any, Any]


def plugin_message(plugin: Plugin) -> pb.Plugin:
    return to_proto(plugin, pb.Plugin, config=plugin.masked(dict(plugin.config)))


def plugins_message(plugins: list[Plugin]) -> pb.ListPluginsResponse:
    return pb.ListPluginsResponse(plugins=[plugin_message(p) for p in plugins])


class PluginServicer(plugin_service_pb2_grpc.PluginServiceServicer):
    async def ListPlugins(self, request: pb.ListPluginsRequest, context: Context) -> Any:
        kind = request.plugin_type if request.HasField("plugin_type") else None
        return plugins_message(await current()(build(ListPlugins, plugin_type=kind)))

    async def AddPlugin(self, request: pb.AddPluginRequest, context: Context) -> Any:
        if not request.HasField("plugin"):
            raise invalid_field("plugin", "give the plugin to add")
        return plugin_message(await current()(build(AddPlugin, **plain(request.plugin))))

    async def RegisterBuiltinPlugins(
        self, request: pb.RegisterBuiltinPluginsRequest, context: Context
    ) -> Any:
        caller = current()
        await caller(RegisterBuiltinPlugins())
        names = {p.name for p in builtin_plugins()}
        return plugins_message([p for p in await caller(ListPlugins()) if p.name in names])

    async def InstallPlugins(self, request: pb.InstallPluginsRequest, context: Context) -> Any:
        message = build(RequestPluginInstall, names=list(request.names), force=request.force)
        return to_proto(await current()(message), pb.InstallJob)

    async def GetInstallJob(self, request: pb.GetInstallJobRequest, context: Context) -> Any:
        job = await current()(build(GetInstallJob, job_id=request.job_id))
        return to_proto(job, pb.InstallJob)

    async def GetPlugin(self, request: pb.GetPluginRequest, context: Context) -> Any:
        return plugin_message(await current()(build(GetPlugin, name=request.name)))

    async def UpdatePlugin(self, request: pb.UpdatePluginRequest, context: Context) -> Any:
        paths = [p for p in request.update_mask.paths if p not in ("name", "plugin_type")]
        if not paths:
            raise invalid_field("update_mask", "name the fields to change")
        changes = masked_changes(request.changes, paths)
        message = build(UpdatePlugin, name=request.name, changes=changes)
        return plugin_message(await current()(message))

    async def DeletePlugin(self, request: pb.DeletePluginRequest, context: Context) -> Any:
        await current()(build(RemovePlugin, name=request.name))
        return pb.DeletePluginResponse()

    async def SetPluginSetting(self, request: pb.SetPluginSettingRequest, context: Context) -> Any:
        value = plain(request).get("value")
        message = build(
            SetPluginSetting,
            name=request.name,
            setting=request.setting,
            value=value,
            secret=request.secret,
        )
        return plugin_message(await current()(message))

    async def UnsetPluginSetting(
        self, request: pb.UnsetPluginSettingRequest, context: Context
    ) -> Any:
        message = build(UnsetPluginSetting, name=request.name, setting=request.setting)
        return plugin_message(await current()(message))

    async def GetPluginConfig(self, request: pb.GetPluginConfigRequest, context: Context) -> Any:
        pipeline = request.pipeline if request.HasField("pipeline") else None
        rows = await current()(build(GetPluginConfig, name=request.name, pipeline=pipeline))
        return pb.GetPluginConfigResponse(settings=to_protos(rows, pb.EffectiveSetting))

    async def ListPluginStreams(
        self, request: pb.ListPluginStreamsRequest, context: Context
    ) -> Any:
        fields = plain(request)
        message = build(
            ListStreams,
            plugin=request.name,
            pipeline=fields.get("pipeline"),
            refresh=request.refresh,
            config=fields.get("config") if request.HasField("config") else None,
            select=list(request.select) if request.select_given else None,
            metadata=fields.get("metadata") or None,
        )
        return to_proto(await current()(message), pb.StreamsListing)
