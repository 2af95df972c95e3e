"""tap-flx-sample's catalog: what ``--discover`` prints and what a given catalog selects."""

from __future__ import annotations

from typing import Any

from flx_meltano.builtin.errors import ConnectorError
from flx_meltano.builtin.sample_data import KEY, REPLICATION_KEY, SCHEMAS

AUTOMATIC = frozenset({KEY, REPLICATION_KEY})


def discover() -> dict[str, Any]:
    """Every stream with its schema and metadata; ``selected`` is left to the user."""
    return {"streams": [_entry(name, schema) for name, schema in SCHEMAS.items()]}


def _entry(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    metadata: list[dict[str, Any]] = [
        {
            "breadcrumb": [],
            "metadata": {
                "table-key-properties": [KEY],
                "valid-replication-keys": [REPLICATION_KEY],
                "forced-replication-method": "INCREMENTAL",
                "inclusion": "available",
            },
        }
    ]
    for prop in schema["properties"]:
        inclusion = "automatic" if prop in AUTOMATIC else "available"
        metadata.append({"breadcrumb": ["properties", prop], "metadata": {"inclusion": inclusion}})
    return {
        "tap_stream_id": name,
        "stream": name,
        "schema": schema,
        "key_properties": [KEY],
        "replication_key": REPLICATION_KEY,
        "replication_method": "INCREMENTAL",
        "metadata": metadata,
    }


def selection(catalog: dict[str, Any] | None) -> dict[str, tuple[str, ...]]:
    """Selected streams, in catalog order, with their selected properties in schema order.

    No catalog selects everything. With one, a stream is selected by ``selected: true`` on
    its breadcrumb ``[]`` metadata; a property is dropped by ``selected: false`` on its own
    breadcrumb unless it is the key or the replication key, which are always emitted.
    """
    if catalog is None:
        return {name: tuple(schema["properties"]) for name, schema in SCHEMAS.items()}
    entries = catalog.get("streams")
    if not isinstance(entries, list):
        raise ConnectorError('the catalog has no "streams" list')
    chosen: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise ConnectorError("the catalog's streams must be objects")
        name = entry.get("tap_stream_id") or entry.get("stream")
        if name not in SCHEMAS:
            raise ConnectorError(
                f"the catalog names stream {name!r}; this tap has {', '.join(SCHEMAS)}"
            )
        metadata = _metadata_by_breadcrumb(entry)
        if metadata.get((), {}).get("selected") is not True:
            continue
        chosen[name] = tuple(
            prop
            for prop in SCHEMAS[name]["properties"]
            if prop in AUTOMATIC or metadata.get(("properties", prop), {}).get("selected") is not False
        )
    return chosen


def _metadata_by_breadcrumb(entry: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for item in entry.get("metadata") or []:
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            found[tuple(item.get("breadcrumb") or ())] = item["metadata"]
    return found
