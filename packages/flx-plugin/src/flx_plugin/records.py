"""The state of each extension in a process, and the row that reports it.

discovered -> resolved -> loaded -> active -> inactive, or failed (with the reason) from any
of them. An active extension can carry a reason too: the last reload failed and the previous
version stays active.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flx_plugin.context import ExtensionContext
from flx_plugin.discovery import DiscoveredExtension
from flx_plugin.loader import LoadedExtension


class ExtensionState(StrEnum):
    DISCOVERED = "discovered"
    RESOLVED = "resolved"
    LOADED = "loaded"
    ACTIVE = "active"
    INACTIVE = "inactive"
    FAILED = "failed"


def extension_row(
    extension: DiscoveredExtension,
    state: str,
    reason: str | None = None,
    *,
    name: str | None = None,
    activated_at: datetime | None = None,
    versions: list[str] | None = None,
) -> dict[str, Any]:
    """One extension as ``flx extension info|list`` and the status file report it."""
    m = extension.manifest
    return {
        "name": name or extension.name,
        "kind": m.kind if m else None,
        "version": m.version if m else None,
        "source": extension.source,
        "origin": extension.origin,
        "state": str(state),
        "reason": reason,
        "activated_at": activated_at.isoformat() if activated_at else None,
        "description": m.description if m else "",
        "requires": list(m.requires) if m else [],
        "provides": list(m.provides) if m else [],
        "versions": versions or ([m.version] if m else []),
    }


@dataclass(eq=False)
class ExtensionRecord:
    """One extension name in a manager: the version that runs, or the one that could not."""

    name: str
    state: ExtensionState
    extension: DiscoveredExtension
    reason: str | None = None
    activated_at: datetime | None = None
    loaded: LoadedExtension | None = field(default=None, repr=False)
    context: ExtensionContext | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.state is ExtensionState.ACTIVE

    @property
    def location(self) -> str:
        return self.extension.location

    def row(self, versions: list[str] | None = None) -> dict[str, Any]:
        return extension_row(
            self.extension,
            self.state,
            self.reason,
            name=self.name,
            activated_at=self.activated_at,
            versions=versions,
        )
