"""The state of each plugin in a process, and the row that reports it.

discovered -> resolved -> loaded -> active -> inactive, or failed (with the reason) from any
of them. An active plugin can carry a reason too: the last reload failed and the previous
version stays active.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flx_plugin.context import PluginContext
from flx_plugin.discovery import DiscoveredPlugin
from flx_plugin.loader import LoadedPlugin


class PluginState(StrEnum):
    DISCOVERED = "discovered"
    RESOLVED = "resolved"
    LOADED = "loaded"
    ACTIVE = "active"
    INACTIVE = "inactive"
    FAILED = "failed"


def plugin_row(
    plugin: DiscoveredPlugin,
    state: str,
    reason: str | None = None,
    *,
    name: str | None = None,
    activated_at: datetime | None = None,
    versions: list[str] | None = None,
) -> dict[str, Any]:
    """One plugin as reported by ``flx plugin info``, the status file and ``plugin list``."""
    m = plugin.manifest
    return {
        "name": name or plugin.name,
        "kind": m.kind if m else None,
        "version": m.version if m else None,
        "source": plugin.source,
        "origin": plugin.origin,
        "state": str(state),
        "reason": reason,
        "activated_at": activated_at.isoformat() if activated_at else None,
        "description": m.description if m else "",
        "requires": list(m.requires) if m else [],
        "provides": list(m.provides) if m else [],
        "versions": versions or ([m.version] if m else []),
    }


@dataclass(eq=False)
class PluginRecord:
    """One plugin name in a manager: the version that runs, or the one that could not."""

    name: str
    state: PluginState
    plugin: DiscoveredPlugin
    reason: str | None = None
    activated_at: datetime | None = None
    loaded: LoadedPlugin | None = field(default=None, repr=False)
    context: PluginContext | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.state is PluginState.ACTIVE

    @property
    def location(self) -> str:
        return self.plugin.location

    def row(self, versions: list[str] | None = None) -> dict[str, Any]:
        return plugin_row(
            self.plugin,
            self.state,
            self.reason,
            name=self.name,
            activated_at=self.activated_at,
            versions=versions,
        )
