"""Metadata overrides, as Meltano's ``metadata`` extra:

    {"users": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"},
     "*": {"id": {"is-primary-key": true}}}

Keys are stream globs. A scalar value sets stream metadata (and, for the replication
keys, the legacy top-level field old taps read: ``replication_method``,
``replication_key``); a mapping value sets metadata on the properties its key names
(dotted, globs allowed; a plain name absent from the catalog gets an entry).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from flx_meltano.catalog.patterns import SelectPatternError, split_path
from flx_meltano.catalog.streams import StreamMetadata, stream_id, streams_of

LEGACY_STREAM_FIELDS = {"replication-method", "replication-key"}
_GLOB = re.compile(r"[*?\[]")


def apply_metadata(
    catalog: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """A copy of ``catalog`` with the overrides applied, in their order."""
    for pattern, entries in overrides.items():
        if not pattern.strip():
            raise SelectPatternError(pattern, "the stream pattern is empty")
        if not isinstance(entries, Mapping):
            raise SelectPatternError(pattern, "its value must map metadata keys to values")
        for key, value in entries.items():
            if isinstance(value, Mapping):
                split_path(key, f"{pattern}.{key}")
    result = copy.deepcopy(dict(catalog))
    for stream in streams_of(result):
        sid = stream_id(stream)
        metadata = StreamMetadata(stream)
        for pattern, entries in overrides.items():
            if fnmatchcase(sid, pattern):
                _apply(stream, metadata, entries)
    return result


def _apply(stream: dict[str, Any], metadata: StreamMetadata, entries: Mapping[str, Any]) -> None:
    for key, value in entries.items():
        if not isinstance(value, Mapping):
            metadata.ensure(())[key] = value
            if key in LEGACY_STREAM_FIELDS:
                stream[key.replace("-", "_")] = value
            continue
        globs = tuple(key.split("."))
        paths = [
            path
            for path in metadata.property_paths()
            if len(path) == len(globs) and all(map(fnmatchcase, path, globs))
        ]
        if not paths and not _GLOB.search(key):
            paths = [globs]
        for path in paths:
            metadata.ensure(path).update(value)
