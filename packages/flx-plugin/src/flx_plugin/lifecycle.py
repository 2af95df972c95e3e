"""Activating, swapping and deactivating one plugin; every failure ends as a reason.

A swap (reload, or another version taking over) imports the new code beside the old,
deactivates the old, activates the new, and brings the old back if the new one fails.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from flx_plugin.context import ExtensionRegistry, PluginContext
from flx_plugin.discovery import DiscoveredPlugin
from flx_plugin.loader import LoadedPlugin, PluginLoader, PluginLoadError
from flx_plugin.records import PluginRecord, PluginState

if TYPE_CHECKING:
    from flx_core.application import Application

log = structlog.get_logger(__name__)


class Lifecycle:
    """The transitions of plugin records; ``say`` gets one line per load, reload, failure."""

    def __init__(
        self,
        app: Application | None,
        registry: ExtensionRegistry,
        *,
        settings: Any,
        options: Callable[[str], dict[str, Any]],
        say: Callable[[str], None],
    ) -> None:
        self.app = app
        self.registry = registry
        self.settings = settings
        self.options = options
        self.say = say
        self.loader = PluginLoader()
        self.records: dict[str, PluginRecord] = {}
        #: Names of active plugins in activation order (stopped in reverse).
        self.active_order: list[str] = []
        #: Locations whose current content failed to import or activate -> (plugin, why).
        self.rejected: dict[str, tuple[DiscoveredPlugin, str]] = {}

    # -- queries --------------------------------------------------------------------------
    def unmet(self, plugin: DiscoveredPlugin) -> str | None:
        """Why the plugin's requirements are not met by the active plugins, if they are not."""
        assert plugin.manifest is not None
        for req in plugin.manifest.requirements:
            dep = self.records.get(req.name)
            if dep is None or not dep.active:
                return f"requires {req}, which is not active"
            if not req.specifier.contains(dep.plugin.version or "0", prereleases=True):
                return f"requires {req}, but {req.name} {dep.plugin.version} is active"
        return None

    # -- transitions ----------------------------------------------------------------------
    def activate(self, plugin: DiscoveredPlugin) -> bool:
        previous = self.records.get(plugin.name)
        record = PluginRecord(plugin.name, PluginState.RESOLVED, plugin)
        self.records[plugin.name] = record
        unmet = self.unmet(plugin)
        if unmet is not None:
            self.fail(record, unmet, previous)
            return False
        try:
            loaded = self.loader.load_sync(plugin)
        except PluginLoadError as exc:
            self.rejected[plugin.location] = (plugin, str(exc))
            self.fail(record, str(exc), previous)
            return False
        record.state = PluginState.LOADED
        error = self._start(record, plugin, loaded)
        if error is not None:
            loaded.drop_modules()
            self.rejected[plugin.location] = (plugin, error)
            self.fail(record, error, previous)
            return False
        self.say(f"active {plugin.name} {plugin.version} ({plugin.source})")
        return True

    def swap(self, record: PluginRecord, plugin: DiscoveredPlugin) -> bool:
        """Replace the running version of ``record`` by ``plugin``; on failure keep the old."""
        unmet = self.unmet(plugin)
        if unmet is not None:
            self.keep(record, unmet)
            return False
        try:
            loaded = self.loader.load_sync(plugin)
        except PluginLoadError as exc:
            self.rejected[plugin.location] = (plugin, str(exc))
            self.keep(record, str(exc))
            return False
        old_plugin, old_loaded = record.plugin, record.loaded
        self.deactivate(record)
        error = self._start(record, plugin, loaded)
        if error is not None:
            loaded.drop_modules()
            self.rejected[plugin.location] = (plugin, error)
            self._restore(record, old_plugin, old_loaded, error)
            return False
        if old_loaded is not None:
            old_loaded.drop_modules()
        if old_plugin.location == plugin.location:
            self.say(f"reloaded {plugin.name} {plugin.version} ({plugin.source})")
        else:
            self.say(
                f"replaced {plugin.name} {old_plugin.version} by {plugin.version} ({plugin.source})"
            )
        return True

    def _restore(
        self,
        record: PluginRecord,
        plugin: DiscoveredPlugin,
        loaded: LoadedPlugin | None,
        error: str,
    ) -> None:
        again = self._start(record, plugin, loaded) if loaded is not None else "not loaded"
        if again is None:
            self.keep(record, error)
            return
        if loaded is not None:
            loaded.drop_modules()
        record.plugin, record.loaded = plugin, None
        self.fail(record, f"{error}; the previous version did not restart either: {again}", None)

    def _start(
        self, record: PluginRecord, plugin: DiscoveredPlugin, loaded: LoadedPlugin
    ) -> str | None:
        """Call activate() with a fresh context; the error text if it raised."""
        context = PluginContext(
            plugin.name,
            self.app,
            self.registry,
            settings=self.settings,
            config=self.options(plugin.name),
        )
        try:
            loaded.target.activate(context)
        except Exception as exc:
            context.close()
            return f"activate() raised {type(exc).__name__}: {exc}"
        record.plugin, record.loaded, record.context = plugin, loaded, context
        record.state, record.reason = PluginState.ACTIVE, None
        record.activated_at = datetime.now(UTC)
        self.active_order.append(record.name)
        return None

    def deactivate(
        self,
        record: PluginRecord,
        state: PluginState = PluginState.INACTIVE,
        reason: str | None = None,
    ) -> None:
        """Call the plugin's deactivate(), then undo all its registrations regardless."""
        hook = getattr(record.loaded.target, "deactivate", None) if record.loaded else None
        if callable(hook):
            try:
                hook(record.context)
            except Exception as exc:
                log.exception("plugin_deactivate_failed", plugin=record.name)
                self.say(f"warning {record.name}: deactivate() raised {type(exc).__name__}: {exc}")
        if record.context is not None:
            record.context.close()
        record.context = None
        record.state, record.reason = state, reason
        if record.name in self.active_order:
            self.active_order.remove(record.name)

    def stop(self, record: PluginRecord, state: PluginState, reason: str | None) -> None:
        """Deactivate and forget the code (a later activation imports it afresh)."""
        self.deactivate(record, state, reason)
        if record.loaded is not None:
            record.loaded.drop_modules()
            record.loaded = None

    def unload(self, record: PluginRecord) -> None:
        self.stop(record, PluginState.INACTIVE, None)
        del self.records[record.name]
        self.say(f"unloaded {record.name}")

    # -- reasons --------------------------------------------------------------------------
    def keep(self, record: PluginRecord, why: str) -> None:
        """A new version did not take over: the running one stays, with the reason."""
        version = record.plugin.version
        text = f"reload failed, previous version {version} stays active: {why}"
        if record.reason != text:
            record.reason = text
            self.say(
                f"reload failed {record.name}: {why} (previous version {version} stays active)"
            )

    def fail(self, record: PluginRecord, why: str, previous: PluginRecord | None) -> None:
        record.state, record.reason = PluginState.FAILED, why
        if previous is None or previous.state != PluginState.FAILED or previous.reason != why:
            self.say(f"failed {record.name} {record.plugin.version}: {why}")

    def mark(self, plugin: DiscoveredPlugin, state: PluginState, why: str) -> None:
        """Record a plugin that does not run (failed to resolve, or disabled)."""
        previous = self.records.get(plugin.name)
        record = PluginRecord(plugin.name, state, plugin, why)
        self.records[plugin.name] = record
        if state is PluginState.FAILED:
            self.fail(record, why, previous)
        elif previous is None or previous.state != state or previous.reason != why:
            self.say(f"{state} {plugin.name}: {why}")
