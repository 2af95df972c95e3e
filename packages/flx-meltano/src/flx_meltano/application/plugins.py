"""Connector use cases of the engine: the built-in connectors, installation and the
effective settings of a connector."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import Field

from flx_core.application import (
    Application,
    Command,
    HandlerContext,
    Query,
    load_pipeline,
    load_plugin,
)
from flx_core.config import FlxSettings
from flx_core.domain import (
    NotFound,
    Permission,
    Plugin,
    PluginSetting,
    PluginType,
    Principal,
    ServiceResult,
    SettingKind,
    ValidationFailed,
)
from flx_core.domain.events import PluginRemoved
from flx_core.domain.ports import EventFilter
from flx_meltano.application.module import handlers
from flx_meltano.plugin_settings import resolve_settings

BIN = Path(sys.executable).parent
log = structlog.get_logger(__name__)


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
    """Add FLX's built-in connectors, or point existing records at this installation.

    With ``restore_removed`` false, a built-in connector someone removed stays removed (the
    audit trail tells), and an existing record is re-pointed only when its executable is
    gone: what every process does when it starts.
    """

    permission = Permission.PLUGIN_MANAGE

    restore_removed: bool = True


@handlers.command(RegisterBuiltinPlugins)
async def register_builtins(
    cmd: RegisterBuiltinPlugins, ctx: HandlerContext
) -> ServiceResult[list[str]]:
    existing = {p.name: p for p in await ctx.uow.plugins.list()}
    builtins = builtin_plugins()
    missing = [p for p in builtins if p.name not in existing]
    if missing and not cmd.restore_removed:
        removed = await _removed_names(ctx)
        missing = [p for p in missing if p.name not in removed]
    added = []
    for plugin in missing:
        fresh = Plugin.create(**plugin.model_dump(exclude={"id", "version"}))
        await ctx.uow.plugins.add(fresh)
        ctx.uow.track(fresh)
        added.append(plugin.name)
    for plugin in builtins:
        known = existing.get(plugin.name)
        if known is None or known.variant != "flx" or known.executable == plugin.executable:
            continue
        if cmd.restore_removed or not Path(known.executable or "").exists():
            ctx.uow.track(known)
            known.update(executable=plugin.executable)
            await ctx.uow.plugins.save(known)
    return ServiceResult.success(added)


async def _removed_names(ctx: HandlerContext) -> set[str]:
    events = await ctx.uow.events.list(
        EventFilter(event_type=PluginRemoved.event_type()), limit=1000
    )
    return {str(e.payload.get("name")) for e in events}


@handlers.startup
async def builtin_connectors(app: Application) -> None:
    """Every FLX home has the built-in connectors, whether or not `flx demo` ran: they are
    registered when a process first uses a database (one query when they are there)."""
    try:
        result = await app.execute(
            RegisterBuiltinPlugins(restore_removed=False), principal=Principal.system()
        )
        reason = result.message
    except Exception as exc:  # another process registering them at the same moment, say
        result, reason = None, f"{type(exc).__name__}: {exc}"
    if result is None or not result.ok:
        # Not worth stopping the process for: the command it runs says what is wrong.
        log.info("builtin_connectors_not_registered", reason=reason)


class GetPluginConfig(Query):
    """The effective settings of a connector (in ``pipeline`` when given): each value with
    where it comes from (default, plugin, pipeline, environment), secrets masked."""

    permission = Permission.PLUGIN_READ

    name: str
    pipeline: str | None = None


@handlers.query(GetPluginConfig)
async def get_plugin_config(
    qry: GetPluginConfig, ctx: HandlerContext, *, environ: Mapping[str, str] = os.environ
) -> ServiceResult[list[dict[str, Any]]]:
    """``environ`` is the environment of this process: the one the runs it starts see."""
    plugin = await load_plugin(ctx.uow, qry.name)
    pipeline = None
    if qry.pipeline:
        pipeline = await load_pipeline(ctx.uow, qry.pipeline)
        if plugin.name not in pipeline.plugin_names:
            raise ValidationFailed(
                f"pipeline {pipeline.name!r} does not use plugin {plugin.name!r} "
                f"(it runs {', '.join(pipeline.plugin_names)})",
                pipeline=pipeline.name,
                plugin=plugin.name,
            )
    resolved = resolve_settings(plugin, pipeline, environ)
    return ServiceResult.success([s.as_dict() for s in resolved])


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
