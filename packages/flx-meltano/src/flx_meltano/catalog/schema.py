"""Schema overrides, as Meltano's ``schema`` extra:

    {"users": {"score": {"type": ["string", "null"]}},
     "*": {"updated_at": {"type": "string", "format": "date-time"}}}

Keys are stream globs, then top-level property names. A property's JSON schema is replaced
whole by the one given (as Meltano does); a plain name the stream does not have is added
with it (for taps that cannot discover their schema), while a glob only reaches the
properties there are. Overrides apply in their order, so a later one has the last word.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from flx_meltano.catalog.streams import CatalogError, stream_id, streams_of

_GLOB = re.compile(r"[*?\[]")


class SchemaOverrideError(ValueError):
    """An override that is not ``{stream: {property: JSON schema}}``."""


def check_schema_overrides(overrides: Mapping[str, Any]) -> None:
    for pattern, properties in overrides.items():
        if not str(pattern).strip():
            raise SchemaOverrideError("a schema override has an empty stream pattern")
        if not isinstance(properties, Mapping):
            raise SchemaOverrideError(
                f"schema override {pattern!r} must map property names to JSON schemas"
            )
        for name, schema in properties.items():
            if not isinstance(schema, Mapping):
                raise SchemaOverrideError(
                    f"schema override '{pattern}.{name}' must be a JSON schema (an object)"
                )


def apply_schema(
    catalog: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """A copy of ``catalog`` with the overrides laid over its streams' schemas."""
    check_schema_overrides(overrides)
    result = copy.deepcopy(dict(catalog))
    if not overrides:
        return result
    for stream in streams_of(result):
        sid = stream_id(stream)
        for pattern, properties in overrides.items():
            if fnmatchcase(sid, pattern):
                _override(stream, sid, properties)
    return result


def _override(stream: dict[str, Any], sid: str, overrides: Mapping[str, Any]) -> None:
    schema = stream.setdefault("schema", {"type": "object"})
    if not isinstance(schema, dict):
        raise CatalogError(f"stream {sid!r}: 'schema' is not an object")
    properties = schema.setdefault("properties", {})
    if not isinstance(properties, dict):
        raise CatalogError(f"stream {sid!r}: 'schema.properties' is not an object")
    for key, payload in overrides.items():
        names = [n for n in properties if fnmatchcase(n, key)] if _GLOB.search(key) else [key]
        for name in names:
            properties[name] = copy.deepcopy(dict(payload))
