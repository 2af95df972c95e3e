"""Finding extensions: entry points (group ``flx.extensions``) and folders of a watched
directory.

Discovery never fails as a whole: an extension whose manifest cannot be read is returned with
``manifest=None`` and the error (file and field), and the others are returned as usual.

Earlier names are still read: the entry point group ``flx.plugins``, and a folder's
``flx-plugin.toml`` when it has no ``flx-extension.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Literal

from flx_plugin.extension import manifest_data_of
from flx_plugin.manifest import (
    LEGACY_MANIFEST_NAME,
    MANIFEST_NAME,
    ExtensionManifest,
    ManifestError,
    load_manifest,
    manifest_from,
)

ENTRY_POINT_GROUP = "flx.extensions"
#: Still read, after ``flx.extensions``.
LEGACY_ENTRY_POINT_GROUP = "flx.plugins"
ENTRY_POINT_GROUPS = (ENTRY_POINT_GROUP, LEGACY_ENTRY_POINT_GROUP)
Origin = Literal["directory", "entry_point"]


@dataclass(eq=False)
class DiscoveredExtension:
    """An extension found somewhere; ``manifest`` is None when it could not be read."""

    origin: Origin
    #: The folder (directories) or ``module:attribute`` (entry points).
    location: str
    manifest: ExtensionManifest | None = None
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


def manifest_path(folder: Path) -> Path | None:
    """The manifest of ``folder``: ``flx-extension.toml``, else ``flx-plugin.toml``."""
    for name in (MANIFEST_NAME, LEGACY_MANIFEST_NAME):
        if (folder / name).is_file():
            return folder / name
    return None


def read_folder(folder: Path) -> DiscoveredExtension:
    try:
        manifest = load_manifest(manifest_path(folder) or folder / MANIFEST_NAME)
    except ManifestError as exc:
        return DiscoveredExtension("directory", str(folder), error=str(exc))
    return DiscoveredExtension("directory", str(folder), manifest)


def extension_folders(path: Path) -> list[Path]:
    """Folders of ``path`` holding a manifest (hidden folders are not extensions)."""
    if not path.is_dir():
        return []
    return sorted(
        p
        for p in path.iterdir()
        if not p.name.startswith((".", "_")) and manifest_path(p) is not None
    )


def scan_directory(path: Path) -> list[DiscoveredExtension]:
    return [read_folder(folder) for folder in extension_folders(path)]


def from_entry_point(ep: EntryPoint) -> DiscoveredExtension:
    dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else None
    found = DiscoveredExtension("entry_point", ep.value, distribution=dist)
    where = f"entry point {ep.name} = {ep.value}"
    try:
        target = ep.load()
    except Exception as exc:
        found.error = f"{where}: cannot import: {type(exc).__name__}: {exc}"
        return found
    data = manifest_data_of(target)
    if data is None:
        found.error = f"{where}: has no manifest (a 'manifest' dict or FlxExtension attributes)"
        return found
    data.setdefault("entry", ep.value)
    try:
        found.manifest = manifest_from(data, where)
    except ManifestError as exc:
        found.error = str(exc)
        return found
    found.target = target
    return found


def _declared(groups: tuple[str, ...]) -> list[EntryPoint]:
    """The entry points of ``groups``, by name; one declared in two groups counts once."""
    seen: dict[tuple[str | None, str, str], EntryPoint] = {}
    for group in groups:
        for ep in entry_points(group=group):
            key = (ep.dist.name if ep.dist is not None else None, ep.name, ep.value)
            seen.setdefault(key, ep)
    return sorted(seen.values(), key=lambda e: e.name)


def entry_points_present(groups: tuple[str, ...] = ENTRY_POINT_GROUPS) -> bool:
    """Whether an installed distribution declares an extension (reads metadata, imports
    nothing)."""
    return any(entry_points(group=group) for group in groups)


def scan_entry_points(groups: tuple[str, ...] = ENTRY_POINT_GROUPS) -> list[DiscoveredExtension]:
    """Installed distributions' extensions; each entry point's object is imported for its
    manifest."""
    return [from_entry_point(ep) for ep in _declared(groups)]


class ExtensionDiscovery:
    """``await ExtensionDiscovery(path).scan()``: the directory's extensions and entry points."""

    def __init__(self, path: Path | str | None = None, *, entry_points: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.entry_points = entry_points

    async def scan(self) -> list[DiscoveredExtension]:
        return self.scan_sync()

    def scan_sync(self) -> list[DiscoveredExtension]:
        found = scan_entry_points() if self.entry_points else []
        if self.path is not None:
            found.extend(scan_directory(self.path))
        return found
