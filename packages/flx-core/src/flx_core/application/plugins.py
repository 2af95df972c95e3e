"""Plugin records: add, update, remove, get, list. Installing them is the engine's job."""

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
from flx_core.domain.security import Permission
from flx_core.domain.value_objects import PluginSetting, PluginType


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
    if plugin.update(now=ctx.clock.now(), **cmd.changes):
        await ctx.uow.plugins.save(plugin)
    return ServiceResult.success(plugin)


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
