"""Finding plugins: entry points (group ``flx.plugins``) and a watched directory."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from flx_plugin.manifest import MANIFEST_NAME, ManifestError, PluginManifest, manifest_from

ENTRY_POINT_GROUP = "flx.plugins"


@dataclass
class DiscoveredPlugin:
    """A plugin found somewhere; ``manifest`` is None when it could not be read."""

    source: str  # "directory" | "entry_point"
    location: str  # folder path or "module:attr"
    manifest: PluginManifest | None = None
    error: str | None = None
    target: Any = field(default=None, repr=False)  # entry point object, once loaded

    @property
    def name(self) -> str:
        if self.manifest is not None:
            return self.manifest.name
        return Path(self.location).name if self.source == "directory" else self.location

    @property
    def version(self) -> str | None:
        return self.manifest.version if self.manifest else None


def scan_directory(path: Path) -> list[DiscoveredPlugin]:
    """Every folder of ``path`` holding a manifest; a bad manifest is reported, not fatal."""
    found: list[DiscoveredPlugin] = []
    if not path.is_dir():
        return found
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest_path = folder / MANIFEST_NAME
        if not manifest_path.is_file():
            continue
        found.append(read_folder(folder))
    return found


def read_folder(folder: Path) -> DiscoveredPlugin:
    from flx_plugin.manifest import load_manifest

    try:
        manifest = load_manifest(folder / MANIFEST_NAME)
    except ManifestError as exc:
        return DiscoveredPlugin("directory", str(folder), error=str(exc))
    return DiscoveredPlugin("directory", str(folder), manifest)


def scan_entry_points(group: str = ENTRY_POINT_GROUP) -> list[DiscoveredPlugin]:
    """Installed distributions' plugins: the object an entry point names carries a
    ``manifest`` (a dict, or class attributes of the same names)."""
    found: list[DiscoveredPlugin] = []
    for ep in entry_points(group=group):
        location = ep.value
        try:
            target = ep.load()
        except Exception as exc:
            found.append(
                DiscoveredPlugin("entry_point", location, error=f"{location}: cannot import: {exc}")
            )
            continue
        raw = getattr(target, "manifest", None)
        if raw is None:
            found.append(
                DiscoveredPlugin("entry_point", location, error=f"{location}: has no 'manifest'")
            )
            continue
        data = dict(raw) if isinstance(raw, dict) else dict(vars(raw))
        data.setdefault("entry", location)
        try:
            manifest = manifest_from(data, f"entry point {ep.name} ({location})")
        except ManifestError as exc:
            found.append(DiscoveredPlugin("entry_point", location, error=str(exc)))
            continue
        found.append(DiscoveredPlugin("entry_point", location, manifest, target=target))
    return found


class PluginDiscovery:
    """``await PluginDiscovery(path).scan()``: the directory's plugins and the entry points."""

    def __init__(self, path: Path | str | None = None, *, entry_points: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.entry_points = entry_points

    async def scan(self) -> list[DiscoveredPlugin]:
        return await asyncio.to_thread(self.scan_sync)

    def scan_sync(self) -> list[DiscoveredPlugin]:
        found = scan_entry_points() if self.entry_points else []
        if self.path is not None:
            found.extend(scan_directory(self.path))
        return found
