"""Apply select rules to a catalog, and list what is selected.

Each stream's metadata gets ``selected: true/false`` on the stream (breadcrumb ``[]``) and
on every property. Properties with ``inclusion: automatic`` are always selected, those
with ``inclusion: unsupported`` never. With no rules at all everything is selected: a
pipeline without ``select`` takes what the tap offers (Meltano needs ``*.*`` for that).
When rules are given, the tap's ``selected-by-default`` is not consulted.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from flx_meltano.catalog.patterns import PropertyPath, SelectPattern, parse_patterns
from flx_meltano.catalog.streams import StreamMetadata, stream_id, streams_of

Label = Literal["automatic", "selected", "excluded"]


def apply_selection(catalog: Mapping[str, Any], rules: Sequence[str]) -> dict[str, Any]:
    """A copy of ``catalog`` with selection metadata set by ``rules``."""
    patterns = parse_patterns(list(rules))
    result = copy.deepcopy(dict(catalog))
    for stream in streams_of(result):
        _select_stream(stream, patterns)
    return result


def _select_stream(stream: dict[str, Any], patterns: list[SelectPattern]) -> None:
    sid = stream_id(stream)
    metadata = StreamMetadata(stream)
    paths = metadata.property_paths()
    if patterns:
        includes = [p for p in patterns if not p.negated and p.matches_stream(sid)]
        excludes = [p for p in patterns if p.negated and p.matches_stream(sid)]
        stream_selected = bool(includes) and not any(p.whole_stream for p in excludes)
        chosen = {
            path
            for path in paths
            if any(p.covers(path) for p in includes) and not any(p.covers(path) for p in excludes)
        }
        chosen |= {path[:i] for path in chosen for i in range(1, len(path))}
    else:
        stream_selected, chosen = True, set(paths)
    metadata.ensure(())["selected"] = stream_selected
    for path in paths:
        entry = metadata.ensure(path)
        inclusion = entry.get("inclusion")
        entry["selected"] = inclusion != "unsupported" and (
            inclusion == "automatic" or (stream_selected and path in chosen)
        )


@dataclass(frozen=True, slots=True)
class PropertySelection:
    path: str
    """Dotted: ``address.city``."""
    inclusion: str
    selected: bool

    @property
    def label(self) -> Label:
        if self.inclusion == "automatic":
            return "automatic"
        return "selected" if self.selected else "excluded"


@dataclass(frozen=True, slots=True)
class StreamSelection:
    stream: str
    selected: bool
    properties: tuple[PropertySelection, ...]

    @property
    def selected_properties(self) -> tuple[PropertySelection, ...]:
        return tuple(p for p in self.properties if p.selected)


def list_selection(catalog: Mapping[str, Any]) -> list[StreamSelection]:
    """What a catalog selects, stream by stream (read from its metadata)."""
    listing: list[StreamSelection] = []
    for stream in streams_of(copy.deepcopy(dict(catalog))):
        metadata = StreamMetadata(stream)
        properties = tuple(
            _property_selection(path, metadata.get(path)) for path in metadata.property_paths()
        )
        listing.append(StreamSelection(stream_id(stream), _selected(metadata.get(())), properties))
    return listing


def describe_selection(catalog: Mapping[str, Any], *, everything: bool = False) -> list[str]:
    """Lines such as ``[selected ] users.name`` for the selected streams' properties;
    ``everything`` adds excluded ones and unselected streams."""
    lines: list[str] = []
    for stream in list_selection(catalog):
        if not (stream.selected or everything):
            continue
        for prop in stream.properties:
            if prop.selected or everything:
                lines.append(f"[{prop.label:<9}] {stream.stream}.{prop.path}")
    return lines


def _property_selection(path: PropertyPath, entry: Mapping[str, Any]) -> PropertySelection:
    inclusion = str(entry.get("inclusion", "available"))
    selected = inclusion == "automatic" or (inclusion != "unsupported" and _selected(entry))
    return PropertySelection(".".join(path), inclusion, selected)


def _selected(entry: Mapping[str, Any]) -> bool:
    return bool(entry.get("selected", entry.get("selected-by-default", False)))
