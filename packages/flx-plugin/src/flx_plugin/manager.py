"""The lifecycle of extension plugins: discovered -> resolved -> loaded -> active.

A plugin that fails to resolve, import or activate is marked failed with its reason; the
host and the other plugins keep working. Reloading a directory plugin imports the new code
beside the old, swaps only when the new version activates, and otherwise keeps the old one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from flx_plugin.config import PluginConfig
from flx_plugin.context import ExtensionRegistry, PluginContext
from flx_plugin.discovery import DiscoveredPlugin, PluginDiscovery, read_folder
from flx_plugin.loader import LoadedPlugin, PluginLoader, PluginLoadError
from flx_plugin.resolver import Resolution, resolve
from flx_plugin.status import write_status

if TYPE_CHECKING:
    from flx_core.application import Application

log = structlog.get_logger(__name__)


@dataclass
class PluginRecord:
    name: str
    state: str  # discovered | resolved | loaded | active | inactive | failed
    plugin: DiscoveredPlugin | None = None
    reason: str | None = None
    activated_at: datetime | None = None
    loaded: LoadedPlugin | None = field(default=None, repr=False)
    context: PluginContext | None = field(default=None, repr=False)

    def row(self) -> dict[str, Any]:
        m = self.plugin.manifest if self.plugin else None
        return {
            "name": self.name,
            "kind": m.kind if m else None,
            "version": m.version if m else None,
            "source": self.plugin.source if self.plugin else None,
            "location": self.plugin.location if self.plugin else None,
            "state": self.state,
            "reason": self.reason,
            "activated_at": self.activated_at.isoformat() if self.activated_at else None,
            "requires": list(m.requires) if m else [],
            "provides": list(m.provides) if m else [],
        }


class PluginManager:
    def __init__(
        self,
        config: PluginConfig,
        app: Application | None = None,
        *,
        settings: Any = None,
        entry_points: bool = True,
        status_file: bool = False,
    ) -> None:
        self.config = config
        self.app = app
        self.settings = settings
        self.entry_points = entry_points
        self.status_file = status_file
        self.registry = ExtensionRegistry()
        self.loader = PluginLoader()
        self.records: dict[str, PluginRecord] = {}
        self.resolution = Resolution()
        self.events: list[str] = []  # one line per load/reload/unload/failure, for watchers

    # -- start ---------------------------------------------------------------------------
    def discover(self) -> list[DiscoveredPlugin]:
        return PluginDiscovery(self.config.watch_dir, entry_points=self.entry_points).scan_sync()

    def resolve(self, found: list[DiscoveredPlugin]) -> Resolution:
        return resolve(
            found,
            flx_version=self.config.flx_version,
            pins=self.config.pins,
            disabled=self.config.disabled,
        )

    async def start(self) -> None:
        found = self.discover()
        self.resolution = self.resolve(found)
        for name in self.resolution.disabled:
            self.records[name] = PluginRecord(
                name,
                "inactive",
                next((p for p in found if p.name == name), None),
                reason="disabled in plugins.toml",
            )
        for name, reason in self.resolution.failed.items():
            plugin = next((p for p in found if p.name == name), None)
            self.records[name] = PluginRecord(name, "failed", plugin, reason=reason)
            self._say(f"failed {name}: {reason}")
        for plugin in self.resolution.order:
            self.records[plugin.name] = PluginRecord(plugin.name, "resolved", plugin)
            self._activate(plugin)
        self._publish()

    def _activate(self, plugin: DiscoveredPlugin) -> bool:
        record = self.records.setdefault(plugin.name, PluginRecord(plugin.name, "resolved"))
        record.plugin = plugin
        for req in plugin.manifest.requirements if plugin.manifest else []:
            dep = self.records.get(req.name)
            if dep is None or dep.state != "active":
                record.state, record.reason = "failed", f"depends on {req.name}, not active"
                self._say(f"failed {plugin.name}: {record.reason}")
                return False
        try:
            loaded = self.loader.load_sync(plugin)
        except PluginLoadError as exc:
            record.state, record.reason = "failed", str(exc)
            self._say(f"failed {plugin.name}: {exc}")
            return False
        record.state = "loaded"
        context = PluginContext(plugin.name, self.app, self.registry, self.settings)
        try:
            loaded.target.activate(context)
        except Exception as exc:
            context.close()
            loaded.drop_modules()
            record.state = "failed"
            record.reason = f"activate() raised {type(exc).__name__}: {exc}"
            self._say(f"failed {plugin.name}: {record.reason}")
            return False
        record.state, record.reason = "active", None
        record.loaded, record.context = loaded, context
        record.activated_at = datetime.now(UTC)
        self._say(f"active {plugin.name} {plugin.version} ({plugin.source})")
        return True

    def _deactivate(self, record: PluginRecord, state: str = "inactive") -> None:
        if record.loaded is not None:
            hook = getattr(record.loaded.target, "deactivate", None)
            if callable(hook):
                try:
                    hook(record.context)
                except Exception:
                    log.exception("deactivate_failed", plugin=record.name)
        if record.context is not None:
            record.context.close()  # whatever deactivate did or did not undo
        record.state, record.context = state, None

    # -- reload --------------------------------------------------------------------------
    def reload(self, name: str) -> bool:
        record = self.records.get(name)
        if record is None or record.plugin is None:
            self._say(f"failed {name}: unknown plugin")
            return False
        if record.plugin.source == "directory":
            return self.reload_folder(Path(record.plugin.location))
        self._deactivate(record)
        ok = self._activate(record.plugin)
        self._publish()
        return ok

    def reload_folder(self, folder: Path) -> bool:
        """(Re)load the plugin in ``folder``; on any failure the running version stays."""
        fresh = read_folder(folder)
        old = next(
            (
                r
                for r in self.records.values()
                if r.plugin is not None and r.plugin.location == str(folder)
            ),
            None,
        )
        if fresh.manifest is None:
            return self._reload_failed(old, fresh.name, fresh.error or "bad manifest")
        name = fresh.name
        old = old or self.records.get(name)
        candidates = [
            r.plugin
            for r in self.records.values()
            if r.plugin is not None and r.name != name and r.state == "active"
        ]
        check = self.resolve([*candidates, fresh])
        if name in check.failed:
            return self._reload_failed(old, name, check.failed[name])
        try:
            loaded = self.loader.load_sync(fresh)
        except PluginLoadError as exc:
            return self._reload_failed(old, name, str(exc))
        context = PluginContext(name, self.app, self.registry, self.settings)
        previous_state = old.state if old else None
        if old is not None and old.state == "active":
            self._deactivate(old)
        try:
            loaded.target.activate(context)
        except Exception as exc:
            context.close()
            loaded.drop_modules()
            reason = f"activate() raised {type(exc).__name__}: {exc}"
            if old is not None and previous_state == "active" and old.loaded is not None:
                self._reactivate(old)
            return self._reload_failed(old, name, reason)
        if old is not None and old.loaded is not None:
            old.loaded.drop_modules()
        if old is not None and old.name != name:
            self.records.pop(old.name, None)
        self.records[name] = PluginRecord(
            name, "active", fresh, loaded=loaded, context=context, activated_at=datetime.now(UTC)
        )
        verb = "reloaded" if previous_state == "active" else "active"
        self._say(f"{verb} {name} {fresh.version} ({folder})")
        self._publish()
        return True

    def _reactivate(self, record: PluginRecord) -> None:
        context = PluginContext(record.name, self.app, self.registry, self.settings)
        assert record.loaded is not None
        record.loaded.target.activate(context)
        record.context, record.state = context, "active"

    def _reload_failed(self, old: PluginRecord | None, name: str, reason: str) -> bool:
        if old is not None and old.state == "active":
            old.reason = (
                f"reload failed, previous version {old.plugin.version if old.plugin else ''}"
                f" stays active: {reason}"
            )
            self._say(f"reload failed {name}: {reason} (previous version stays active)")
        else:
            record = old or self.records.setdefault(name, PluginRecord(name, "failed"))
            record.state, record.reason = "failed", reason
            self._say(f"failed {name}: {reason}")
        self._publish()
        return False

    def unload_folder(self, folder: Path) -> None:
        for record in list(self.records.values()):
            if record.plugin is not None and record.plugin.location == str(folder):
                self._deactivate(record)
                if record.loaded is not None:
                    record.loaded.drop_modules()
                del self.records[record.name]
                self._say(f"unloaded {record.name}")
        self._publish()

    def handle_changes(self, paths: list[Path]) -> None:
        """Apply a batch of file changes under the watch directory: one action per folder."""
        folders: set[Path] = set()
        for path in paths:
            try:
                rel = path.resolve().relative_to(self.config.watch_dir)
            except ValueError:
                continue
            if rel.parts and not rel.parts[0].startswith("."):
                folders.add(self.config.watch_dir / rel.parts[0])
        for folder in sorted(folders):
            if (folder / "flx-plugin.toml").is_file():
                self.reload_folder(folder)
            else:
                self.unload_folder(folder)

    def stop(self) -> None:
        for record in reversed(list(self.records.values())):
            if record.state == "active":
                self._deactivate(record)

    # -- reporting -----------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        return [r.row() for r in sorted(self.records.values(), key=lambda r: r.name)]

    def _say(self, line: str) -> None:
        self.events.append(line)
        log.info("plugin", event_line=line)

    def _publish(self) -> None:
        if self.status_file:
            write_status(self.config.watch_dir, self.snapshot(), os.getpid())
