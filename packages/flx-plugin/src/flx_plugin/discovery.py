"""Finding plugins: entry points (group ``flx.plugins``) and folders of a watched directory.

Discovery never fails as a whole: a plugin whose manifest cannot be read is returned with
``manifest=None`` and the error (file and field), and the others are returned as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Literal

from flx_plugin.manifest import (
    MANIFEST_NAME,
    ManifestError,
    PluginManifest,
    load_manifest,
    manifest_from,
)
from flx_plugin.plugin import manifest_data_of

ENTRY_POINT_GROUP = "flx.plugins"
Origin = Literal["directory", "entry_point"]


@dataclass(eq=False)
class DiscoveredPlugin:
    """A plugin found somewhere; ``manifest`` is None when it could not be read."""

    origin: Origin
    #: The folder (directories) or ``module:attribute`` (entry points).
    location: str
    manifest: PluginManifest | None = None
    error: str | None = None
    #: The entry point's object, loaded at discovery (its manifest lives on it).
    target: Any = field(default=None, repr=False)
    distribution: str | None = None

    @property
    def name(self) -> str:
        if self.manifest is not None:
            return self.manifest.name
        return Path(self.location).name if self.origin == "directory" else self.location

    @property
    def version(self) -> str | None:
        return self.manifest.version if self.manifest else None

    @property
    def source(self) -> str:
        """Where it comes from, for people: the folder, or the entry point."""
        if self.origin == "directory":
            return self.location
        dist = f" ({self.distribution})" if self.distribution else ""
        return f"entry point {self.location}{dist}"


def read_folder(folder: Path) -> DiscoveredPlugin:
    try:
        manifest = load_manifest(folder / MANIFEST_NAME)
    except ManifestError as exc:
        return DiscoveredPlugin("directory", str(folder), error=str(exc))
    return DiscoveredPlugin("directory", str(folder), manifest)


def plugin_folders(path: Path) -> list[Path]:
    """Folders of ``path`` holding a manifest (hidden folders are not plugins)."""
    if not path.is_dir():
        return []
    return sorted(
        p
        for p in path.iterdir()
        if not p.name.startswith((".", "_")) and (p / MANIFEST_NAME).is_file()
    )


def scan_directory(path: Path) -> list[DiscoveredPlugin]:
    return [read_folder(folder) for folder in plugin_folders(path)]


def _from_entry_point(ep: EntryPoint) -> DiscoveredPlugin:
    dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else None
    plugin = DiscoveredPlugin("entry_point", ep.value, distribution=dist)
    where = f"entry point {ep.name} = {ep.value}"
    try:
        target = ep.load()
    except Exception as exc:
        plugin.error = f"{where}: cannot import: {type(exc).__name__}: {exc}"
        return plugin
    data = manifest_data_of(target)
    if data is None:
        plugin.error = f"{where}: has no manifest (a 'manifest' dict or FlxPlugin attributes)"
        return plugin
    data.setdefault("entry", ep.value)
    try:
        plugin.manifest = manifest_from(data, where)
    except ManifestError as exc:
        plugin.error = str(exc)
        return plugin
    plugin.target = target
    return plugin


def entry_points_present(group: str = ENTRY_POINT_GROUP) -> bool:
    """Whether any installed distribution declares a plugin (reads metadata, imports nothing)."""
    return bool(entry_points(group=group))


def scan_entry_points(group: str = ENTRY_POINT_GROUP) -> list[DiscoveredPlugin]:
    """Installed distributions' plugins; each entry point's object is imported for its manifest."""
    return [_from_entry_point(ep) for ep in sorted(entry_points(group=group), key=lambda e: e.name)]


class PluginDiscovery:
    """``await PluginDiscovery(path).scan()``: the directory's plugins and the entry points."""

    def __init__(self, path: Path | str | None = None, *, entry_points: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.entry_points = entry_points

    async def scan(self) -> list[DiscoveredPlugin]:
        return self.scan_sync()

    def scan_sync(self) -> list[DiscoveredPlugin]:
        found = scan_entry_points() if self.entry_points else []
        if self.path is not None:
            found.extend(scan_directory(self.path))
        return found
