"""tap-flx-sample: synthetic users, orders and events; incremental by updated_at.

Config: ``rows`` (per stream, default 1000), ``seed`` (default 42), ``start_date`` (ISO,
default 2026-01-01), ``streams`` (default all), ``batch_size`` (rows between STATE messages,
default 10000). Rows are a function of (seed, index): a rerun with the same ``rows`` emits
nothing past the bookmark, a larger ``rows`` emits only the new rows. Given a catalog, its
SCHEMA messages carry the catalog's schemas (of the selected properties), as SDK taps do.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from flx_meltano.connectors.sample_data import SCHEMAS, index_after, make_row, timestamp
from flx_meltano.connectors.singer_io import die, parse_args, read_json_file, tune_for_streaming

PROGRAM = "tap-flx-sample"
REPLICATION_KEY = "updated_at"


def discover() -> dict[str, Any]:
    streams = []
    for name, schema in SCHEMAS.items():
        metadata: list[dict[str, Any]] = [
            {
                "breadcrumb": [],
                "metadata": {
                    "table-key-properties": ["id"],
                    "valid-replication-keys": [REPLICATION_KEY],
                    "forced-replication-method": "INCREMENTAL",
                    "inclusion": "available",
                },
            }
        ]
        for prop in schema["properties"]:
            inclusion = "automatic" if prop in ("id", REPLICATION_KEY) else "available"
            metadata.append(
                {"breadcrumb": ["properties", prop], "metadata": {"inclusion": inclusion}}
            )
        streams.append(
            {
                "tap_stream_id": name,
                "stream": name,
                "schema": schema,
                "key_properties": ["id"],
                "replication_key": REPLICATION_KEY,
                "metadata": metadata,
            }
        )
    return {"streams": streams}


def selection(catalog: dict[str, Any] | None) -> dict[str, set[str] | None]:
    """Selected streams -> selected properties (None: all of them)."""
    if catalog is None:
        return {name: None for name in SCHEMAS}
    chosen: dict[str, set[str] | None] = {}
    for entry in catalog.get("streams", []):
        name = entry.get("tap_stream_id") or entry.get("stream")
        if name not in SCHEMAS:
            continue
        meta = {
            tuple(m.get("breadcrumb", [])): m.get("metadata", {}) for m in entry.get("metadata", [])
        }
        if not meta.get((), {}).get("selected", False):
            continue
        props = {
            p
            for p in SCHEMAS[name]["properties"]
            if meta.get(("properties", p), {}).get("selected", True) is not False
            or meta.get(("properties", p), {}).get("inclusion") == "automatic"
        }
        chosen[name] = props
    return chosen


def catalog_schemas(catalog: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The schema the catalog gives each stream: SCHEMA messages carry it, as SDK taps do,
    so that a catalog's schema overrides reach the target."""
    schemas: dict[str, dict[str, Any]] = {}
    for entry in (catalog or {}).get("streams", []):
        name = entry.get("tap_stream_id") or entry.get("stream")
        schema = entry.get("schema")
        if name in SCHEMAS and isinstance(schema, dict) and schema.get("properties"):
            schemas[name] = schema
    return schemas


def _int(config: dict[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        die(PROGRAM, f"config {key} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        die(PROGRAM, f"config {key} must be an integer, got {value!r}")
    if number < 0:
        die(PROGRAM, f"config {key} must not be negative")
    return number


def main(argv: list[str] | None = None) -> None:
    tune_for_streaming()
    args = parse_args(sys.argv[1:] if argv is None else argv, PROGRAM)
    if args.get("discover"):
        sys.stdout.buffer.write(orjson.dumps(discover(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    if "config" not in args:
        die(PROGRAM, "--config is required")
    config = read_json_file(str(args["config"]), "config", PROGRAM)
    if not isinstance(config, dict):
        die(PROGRAM, "the config must be a JSON object")
    rows = _int(config, "rows", 1000)
    seed = _int(config, "seed", 42)
    batch = max(_int(config, "batch_size", 10000), 1)
    try:
        start = datetime.fromisoformat(
            str(config.get("start_date", "2026-01-01T00:00:00+00:00")).replace("Z", "+00:00")
        )
    except ValueError:
        die(PROGRAM, f"config start_date is not an ISO date: {config.get('start_date')!r}")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    catalog_file = args.get("catalog") or args.get("properties")
    catalog = read_json_file(str(catalog_file), "catalog", PROGRAM) if catalog_file else None
    state = read_json_file(str(args["state"]), "state", PROGRAM) if args.get("state") else {}
    wanted = selection(catalog)
    schemas = catalog_schemas(catalog)
    only = config.get("streams")
    if only:
        unknown = set(only) - set(SCHEMAS)
        if unknown:
            die(PROGRAM, f"config streams names unknown stream(s): {', '.join(sorted(unknown))}")
        wanted = {k: v for k, v in wanted.items() if k in only}
    bookmarks: dict[str, Any] = dict((state or {}).get("bookmarks", {}))
    out = sys.stdout.buffer
    dumps = orjson.dumps
    for stream, props in wanted.items():
        schema = schemas.get(stream, SCHEMAS[stream])
        if props is not None:
            schema = {
                **schema,
                "properties": {k: v for k, v in schema["properties"].items() if k in props},
            }
        out.write(
            dumps(
                {
                    "type": "SCHEMA",
                    "stream": stream,
                    "schema": schema,
                    "key_properties": ["id"],
                    "bookmark_properties": [REPLICATION_KEY],
                }
            )
            + b"\n"
        )
        mark = bookmarks.get(stream, {}).get("replication_key_value")
        first = index_after(start, mark) if mark else 0
        users = rows
        prefix = b'{"type":"RECORD","stream":"' + stream.encode() + b'","record":'
        lines: list[bytes] = []
        for index in range(first, rows):
            row = make_row(stream, seed, index, timestamp(start, index), users)
            if props is not None:
                row = {k: v for k, v in row.items() if k in props}
            lines.append(prefix + dumps(row) + b"}\n")
            if len(lines) >= batch:
                out.write(b"".join(lines))
                lines.clear()
                bookmarks[stream] = {
                    "replication_key": REPLICATION_KEY,
                    "replication_key_value": row[REPLICATION_KEY],
                }
                out.write(dumps({"type": "STATE", "value": {"bookmarks": bookmarks}}) + b"\n")
        if lines:
            out.write(b"".join(lines))
            bookmarks[stream] = {
                "replication_key": REPLICATION_KEY,
                "replication_key_value": timestamp(start, rows - 1),
            }
        out.write(dumps({"type": "STATE", "value": {"bookmarks": bookmarks}}) + b"\n")
    out.flush()


if __name__ == "__main__":
    main()
