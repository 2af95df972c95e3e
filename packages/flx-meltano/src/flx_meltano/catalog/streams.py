"""Reading and writing the parts of a Singer catalog the selection works on.

Metadata entries are addressed by breadcrumb: ``[]`` for the stream, ``["properties",
"a"]`` for a top-level property, ``["properties", "a", "properties", "b"]`` for ``a.b``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flx_meltano.catalog.patterns import PropertyPath


class CatalogError(ValueError):
    """The document is not a Singer catalog this code can work on."""


def streams_of(catalog: Mapping[str, Any]) -> list[dict[str, Any]]:
    streams = catalog.get("streams") if isinstance(catalog, Mapping) else None
    if not isinstance(streams, list) or not all(isinstance(s, dict) for s in streams):
        raise CatalogError("a catalog is an object with a list of stream objects in 'streams'")
    return streams


def stream_id(stream: Mapping[str, Any]) -> str:
    value = stream.get("tap_stream_id") or stream.get("stream")
    if not isinstance(value, str) or not value:
        raise CatalogError("a stream has neither 'tap_stream_id' nor 'stream'")
    return value


def breadcrumb(path: PropertyPath) -> list[str]:
    crumbs: list[str] = []
    for name in path:
        crumbs += ["properties", name]
    return crumbs


def property_path(crumbs: list[Any]) -> PropertyPath | None:
    """The property a breadcrumb points at, or None for the stream or an odd breadcrumb."""
    if not crumbs or len(crumbs) % 2 or any(not isinstance(c, str) for c in crumbs):
        return None
    if any(c != "properties" for c in crumbs[0::2]):
        return None
    return tuple(crumbs[1::2])


def schema_paths(schema: Any, prefix: PropertyPath = ()) -> Iterator[PropertyPath]:
    """Every property of a JSON schema, nested objects included (also under anyOf/oneOf)."""
    if not isinstance(schema, Mapping):
        return
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            yield (*prefix, name)
            yield from schema_paths(sub, (*prefix, name))
    for key in ("anyOf", "oneOf", "allOf"):
        variants = schema.get(key)
        if isinstance(variants, list):
            for variant in variants:
                yield from schema_paths(variant, prefix)


class StreamMetadata:
    """The metadata list of one stream, indexed by breadcrumb; edits go to the stream."""

    def __init__(self, stream: dict[str, Any]) -> None:
        entries = stream.setdefault("metadata", [])
        if not isinstance(entries, list):
            raise CatalogError(f"stream {stream_id(stream)!r}: 'metadata' is not a list")
        self._stream = stream
        self._entries = entries
        self._index: dict[tuple[str, ...], dict[str, Any]] = {}
        for entry in entries:
            crumbs = entry.get("breadcrumb") if isinstance(entry, dict) else None
            if isinstance(crumbs, list):
                self._index[tuple(crumbs)] = entry.setdefault("metadata", {})

    def get(self, path: PropertyPath) -> Mapping[str, Any]:
        return self._index.get(tuple(breadcrumb(path)), {})

    def ensure(self, path: PropertyPath) -> dict[str, Any]:
        key = tuple(breadcrumb(path))
        if key not in self._index:
            self._index[key] = {}
            self._entries.append({"breadcrumb": list(key), "metadata": self._index[key]})
        return self._index[key]

    def property_paths(self) -> list[PropertyPath]:
        """Properties of the schema, then any that only the metadata mentions."""
        found = dict.fromkeys(schema_paths(self._stream.get("schema")))
        for crumbs in self._index:
            path = property_path(list(crumbs))
            if path is not None:
                found.setdefault(path)
        return list(found)
