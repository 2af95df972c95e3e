"""Connector use cases of the engine: the built-in connectors and installation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import Field

from flx_core.application import Command, HandlerContext
from flx_core.config import FlxSettings
from flx_core.domain import (
    NotFound,
    Permission,
    Plugin,
    PluginSetting,
    PluginType,
    ServiceResult,
    SettingKind,
)
from flx_meltano.application.module import handlers

BIN = Path(sys.executable).parent


def builtin_plugins() -> list[Plugin]:
    """FLX's own connectors: console scripts next to the running Python."""
    return [
        Plugin(
            plugin_type=PluginType.EXTRACTOR,
            name="tap-flx-sample",
            variant="flx",
            executable=str(BIN / "tap-flx-sample"),
            capabilities=["catalog", "discover", "state"],
            settings=[
                PluginSetting(
                    name="rows",
                    kind=SettingKind.INTEGER,
                    default=1000,
                    description="Rows available per stream",
                ),
                PluginSetting(name="seed", kind=SettingKind.INTEGER, default=42),
                PluginSetting(name="start_date", description="ISO date of the first row"),
                PluginSetting(name="streams", kind=SettingKind.ARRAY),
                PluginSetting(name="batch_size", kind=SettingKind.INTEGER),
            ],
        ),
        Plugin(
            plugin_type=PluginType.LOADER,
            name="target-flx-jsonl",
            variant="flx",
            executable=str(BIN / "target-flx-jsonl"),
            settings=[
                PluginSetting(name="destination_path", default="output"),
                PluginSetting(name="do_timestamp_file", kind=SettingKind.BOOLEAN),
            ],
        ),
        Plugin(
            plugin_type=PluginType.LOADER,
            name="target-flx-sqlite",
            variant="flx",
            executable=str(BIN / "target-flx-sqlite"),
            settings=[
                PluginSetting(name="database", required=True),
                PluginSetting(name="batch_size", kind=SettingKind.INTEGER),
            ],
        ),
    ]


class RegisterBuiltinPlugins(Command):
    """Add FLX's built-in connectors, or point existing records at this installation."""

    permission = Permission.PLUGIN_MANAGE


@handlers.command(RegisterBuiltinPlugins)
async def register_builtins(
    cmd: RegisterBuiltinPlugins, ctx: HandlerContext
) -> ServiceResult[list[str]]:
    added = []
    for plugin in builtin_plugins():
        existing = await ctx.uow.plugins.get_by_name(plugin.name)
        if existing is None:
            fresh = Plugin.create(**plugin.model_dump(exclude={"id", "version"}))
            await ctx.uow.plugins.add(fresh)
            ctx.uow.track(fresh)
            added.append(plugin.name)
        elif existing.executable != plugin.executable and existing.variant == "flx":
            ctx.uow.track(existing)
            existing.update(executable=plugin.executable)
            await ctx.uow.plugins.save(existing)
    return ServiceResult.success(added)


class InstallPlugins(Command):
    """Install connectors into their venvs (every plugin with a pip_url when none named)."""

    permission = Permission.PLUGIN_MANAGE

    names: list[str] = Field(default_factory=list)
    force: bool = False


@handlers.command(InstallPlugins)
async def install_plugins(
    cmd: InstallPlugins, ctx: HandlerContext, *, settings: FlxSettings
) -> ServiceResult[list[dict[str, Any]]]:
    from flx_meltano.engine.install import install

    known = {p.name: p for p in await ctx.uow.plugins.list()}
    unknown = [n for n in cmd.names if n not in known]
    if unknown:
        raise NotFound(f"unknown plugin(s): {', '.join(unknown)}", plugins=unknown)
    chosen = (
        [known[n] for n in cmd.names] if cmd.names else [p for p in known.values() if p.pip_url]
    )
    results = await install(
        chosen, settings.plugins_path, parallel=settings.install_parallelism, force=cmd.force
    )
    return ServiceResult.success([r.as_dict() for r in results])
