"""Extensions in the processes of FLX: active on every application, and their `flx` commands.

``build_module`` is this package's module factory (entry point group ``flx.modules``): when
an application starts, it activates the extensions on it, so an extension's handlers
run in the process that runs pipelines (``flx run``, ``flx serve``, workers). Nothing is
imported or scanned when there is no extension.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from flx_core.application import ApplicationModule, Wiring
from flx_plugin.builtin import configured_builtins
from flx_plugin.config import ExtensionConfig, ExtensionConfigError, load_extension_config
from flx_plugin.discovery import entry_points_present, extension_folders
from flx_plugin.manager import ExtensionManager
from flx_plugin.queries import handlers

if TYPE_CHECKING:
    import click

    from flx_core.application import Application

log = structlog.get_logger(__name__)


def has_extensions(config: ExtensionConfig, *, entry_points: bool = True) -> bool:
    """Whether there is anything to load: an extension folder, a configured built-in one,
    or an installed entry point."""
    return (
        bool(extension_folders(config.watch_dir))
        or bool(configured_builtins(config))
        or (entry_points and entry_points_present())
    )


def cli_commands(settings: Any) -> list[click.Command]:
    """The `flx` commands that extensions add (empty, and cheap, when there are none).

    The extensions are activated without an application bus (see ``ExtensionContext.has_bus``).
    """
    try:
        config = load_extension_config(settings)
    except ExtensionConfigError as exc:
        log.warning("extension_config_unusable", error=str(exc))
        return []
    if not has_extensions(config):
        return []
    manager = ExtensionManager(config, settings=settings)
    manager.load_all()
    return manager.registry.commands()


def build_module(wiring: Wiring) -> ApplicationModule:
    """The extensions of a process: activated on its application when it starts,
    deactivated when it shuts down, and reported by ``ListExtensions`` and
    ``GetExtension``. Nothing is imported or scanned when there is none."""
    module = handlers.with_dependencies(settings=wiring.settings)
    managers: list[ExtensionManager] = []

    def activate_plugins(app: Application) -> None:
        manager = activate(app, wiring.settings)
        if manager is not None:
            managers.append(manager)

    def stop() -> None:
        for manager in managers:
            manager.stop()

    module.on_start.append(activate_plugins)
    module.closers.append(stop)
    return module


def activate(app: Application, settings: Any) -> ExtensionManager | None:
    """Activate the extensions on ``app``; the manager, or None when there are none."""
    try:
        config = load_extension_config(settings)
    except ExtensionConfigError as exc:
        log.warning("extension_config_unusable", error=str(exc))
        return None
    if not has_extensions(config):
        return None
    manager = ExtensionManager(config, app, settings=settings)
    manager.load_all()
    return manager
