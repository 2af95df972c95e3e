"""Plugins in the processes of FLX: active on every application, and their `flx` commands.

``module`` is this package's application module (entry point group ``flx.modules``): when
an application starts, it activates the extension plugins on it, so a plugin's handlers
run in the process that runs pipelines (``flx run``, ``flx serve``, workers). Nothing is
imported or scanned when there is no plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from flx_core.application import ApplicationModule
from flx_plugin.config import PluginConfig, PluginConfigError, load_plugin_config
from flx_plugin.discovery import entry_points_present, plugin_folders
from flx_plugin.manager import PluginManager

if TYPE_CHECKING:
    import click

    from flx_core.application import Application

log = structlog.get_logger(__name__)


def has_plugins(config: PluginConfig, *, entry_points: bool = True) -> bool:
    """Whether there is anything to load: a plugin folder, or an installed entry point."""
    return bool(plugin_folders(config.watch_dir)) or (entry_points and entry_points_present())


def cli_commands(settings: Any) -> list[click.Command]:
    """The `flx` commands that extension plugins add (empty, and cheap, when there are none).

    The plugins are activated without an application bus (see ``PluginContext.has_bus``).
    """
    try:
        config = load_plugin_config(settings)
    except PluginConfigError as exc:
        log.warning("plugin_config_unusable", error=str(exc))
        return []
    if not has_plugins(config):
        return []
    manager = PluginManager(config, settings=settings)
    manager.load_all()
    return manager.registry.commands()


module = ApplicationModule("plugin", depends_on=("core",))


@module.startup
def activate_plugins(app: Application) -> None:
    """Activate the extension plugins on ``app``; they are deactivated when it closes."""
    from flx_core.bootstrap import Runtime
    from flx_core.config import FlxSettings

    settings = app.services.find(FlxSettings)
    if settings is None:
        return
    try:
        config = load_plugin_config(settings)
    except PluginConfigError as exc:
        log.warning("plugin_config_unusable", error=str(exc))
        return
    if not has_plugins(config):
        return
    manager = PluginManager(config, app, settings=settings)
    manager.load_all()
    app.services.provide(PluginManager, manager)
    runtime = app.services.find(Runtime)
    if runtime is not None:
        runtime.closers.append(manager.stop)
