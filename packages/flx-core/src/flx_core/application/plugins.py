"""Plugin records: add, update, set and unset settings, remove, get, list.

Installing them is the engine's job. Setting values take the kind their plugin declares
(``Plugin.typed_value``), whoever sends them: text typed on a command line and JSON from an
API end up the same.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flx_core.application.context import HandlerContext
from flx_core.application.messages import Command, Query
from flx_core.application.pipelines import module
from flx_core.domain.errors import AlreadyExists, NotFound, ValidationFailed
from flx_core.domain.pipeline import Pipeline
from flx_core.domain.plugin import Plugin
from flx_core.domain.ports import PipelineFilter, UnitOfWork
from flx_core.domain.pydantic_base import ServiceResult
from flx_core.domain.secrets import keep_masked, looks_secret
from flx_core.domain.security import Permission
from flx_core.domain.value_objects import PluginSetting, PluginType, SettingKind, setting_value


class AddPlugin(Command):
    permission = Permission.PLUGIN_MANAGE

    plugin_type: PluginType
    name: str
    variant: str | None = None
    pip_url: str | None = None
    namespace: str = ""
    executable: str | None = None
    settings: list[PluginSetting] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    capabilities: list[str] = Field(default_factory=list)


class UpdatePlugin(Command):
    permission = Permission.PLUGIN_MANAGE

    name: str
    changes: dict[str, Any]


class SetPluginSetting(Command):
    """Give a setting of plugin ``name`` a plugin-level value (allowed while pipelines use
    the plugin: their next runs get it, unless they set their own value)."""

    permission = Permission.PLUGIN_MANAGE

    name: str
    setting: str = Field(min_length=1)
    value: Any
    #: Declare the setting secret: masked in every output, always a string.
    secret: bool = False


class UnsetPluginSetting(Command):
    """Drop the plugin-level value of a setting (its declared default applies again)."""

    permission = Permission.PLUGIN_MANAGE

    name: str
    setting: str = Field(min_length=1)


class TypedPipelineConfig(Query):
    """A pipeline's ``config`` (plugin -> setting -> value) with each value converted to the
    kind its plugin declares; for a plugin FLX does not know, the rule of undeclared
    settings (text stays text unless it is a JSON object or array). Refuses a value that
    does not fit its kind."""

    permission = Permission.PLUGIN_READ

    config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    pipeline: str = ""


class RemovePlugin(Command):
    permission = Permission.PLUGIN_MANAGE

    name: str


class GetPlugin(Query):
    permission = Permission.PLUGIN_READ

    name: str


class ListPlugins(Query):
    permission = Permission.PLUGIN_READ

    plugin_type: PluginType | None = None


async def load_plugin(uow: UnitOfWork, name: str) -> Plugin:
    plugin = await uow.plugins.get_by_name(name)
    if plugin is None:
        raise NotFound(f"plugin {name!r} not found", plugin=name)
    uow.track(plugin)
    return plugin


@module.command(AddPlugin)
async def add_plugin(cmd: AddPlugin, ctx: HandlerContext) -> ServiceResult[Plugin]:
    if await ctx.uow.plugins.get_by_name(cmd.name):
        raise AlreadyExists(f"plugin {cmd.name!r} already exists", plugin=cmd.name)
    plugin = Plugin.create(
        **cmd.model_dump(), created_at=ctx.clock.now(), updated_at=ctx.clock.now()
    )
    await ctx.uow.plugins.add(plugin)
    ctx.uow.track(plugin)
    return ServiceResult.success(plugin)


@module.command(UpdatePlugin)
async def update_plugin(cmd: UpdatePlugin, ctx: HandlerContext) -> ServiceResult[Plugin]:
    plugin = await load_plugin(ctx.uow, cmd.name)
    changes = dict(cmd.changes)
    if isinstance(changes.get("config"), dict):
        changes["config"] = keep_masked(changes["config"], plugin.config)
    if plugin.update(now=ctx.clock.now(), **changes):
        await ctx.uow.plugins.save(plugin)
    return ServiceResult.success(plugin)


@module.command(SetPluginSetting)
async def set_plugin_setting(cmd: SetPluginSetting, ctx: HandlerContext) -> ServiceResult[Plugin]:
    plugin = await load_plugin(ctx.uow, cmd.name)
    if plugin.set_setting(cmd.setting, cmd.value, secret=cmd.secret, now=ctx.clock.now()):
        await ctx.uow.plugins.save(plugin)
    return ServiceResult.success(plugin)


@module.command(UnsetPluginSetting)
async def unset_plugin_setting(
    cmd: UnsetPluginSetting, ctx: HandlerContext
) -> ServiceResult[Plugin]:
    plugin = await load_plugin(ctx.uow, cmd.name)
    if plugin.unset_setting(cmd.setting, now=ctx.clock.now()):
        await ctx.uow.plugins.save(plugin)
    return ServiceResult.success(plugin)


@module.query(TypedPipelineConfig)
async def typed_pipeline_config(
    qry: TypedPipelineConfig, ctx: HandlerContext
) -> ServiceResult[dict[str, dict[str, Any]]]:
    return ServiceResult.success(await typed_config(ctx.uow, qry.config, qry.pipeline))


async def typed_config(
    uow: UnitOfWork, config: dict[str, dict[str, Any]], pipeline: str = ""
) -> dict[str, dict[str, Any]]:
    """``config`` (plugin -> setting -> value) with each value of the kind its plugin
    declares (see ``TypedPipelineConfig``)."""
    where = f"in pipeline {pipeline!r}" if pipeline else ""
    typed: dict[str, dict[str, Any]] = {}
    for name, values in config.items():
        plugin = await uow.plugins.get_by_name(name)
        if plugin is None:
            typed[name] = {
                k: setting_value(v, SettingKind.SECRET if looks_secret(k) else None)
                for k, v in values.items()
            }
        else:
            typed[name] = plugin.typed_config(values, where)
    return typed


async def _pipelines_using(uow: UnitOfWork, name: str) -> list[Pipeline]:
    users: list[Pipeline] = []
    cursor: str | None = None
    while True:
        page = await uow.pipelines.list(PipelineFilter(), limit=500, cursor=cursor)
        users.extend(p for p in page.items if name in p.plugin_names)
        if page.next_cursor is None:
            return users
        cursor = page.next_cursor


@module.command(RemovePlugin)
async def remove_plugin(cmd: RemovePlugin, ctx: HandlerContext) -> ServiceResult[Plugin]:
    plugin = await load_plugin(ctx.uow, cmd.name)
    users = await _pipelines_using(ctx.uow, plugin.name)
    if users:
        raise ValidationFailed(
            f"plugin {plugin.name!r} is used by pipeline(s) "
            f"{', '.join(p.name for p in users)}; change or delete them first",
            pipelines=[p.name for p in users],
        )
    plugin.remove()
    await ctx.uow.plugins.delete(plugin)
    return ServiceResult.success(plugin)


@module.query(GetPlugin)
async def get_plugin(qry: GetPlugin, ctx: HandlerContext) -> ServiceResult[Plugin]:
    return ServiceResult.success(await load_plugin(ctx.uow, qry.name))


@module.query(ListPlugins)
async def list_plugins(qry: ListPlugins, ctx: HandlerContext) -> ServiceResult[list[Plugin]]:
    return ServiceResult.success(await ctx.uow.plugins.list(qry.plugin_type))
