"""target-flx-sqlite: one table per stream, upsert by key properties, growing schemas.

Config: ``database`` (file path, required), ``batch_size`` (records per transaction, default
10000). Objects and arrays are stored as JSON text. A later SCHEMA with more properties adds
columns. A STATE is emitted only after the transaction holding the records before it has
committed, so state never runs ahead of the data.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from flx_meltano.connectors.singer_io import (
    SingerInputError,
    StateEmitter,
    batches,
    die,
    parse_args,
    read_json_file,
    segments,
    tune_for_streaming,
)

PROGRAM = "target-flx-sqlite"

SQL_TYPES = {
    "integer": "INTEGER",
    "number": "REAL",
    "boolean": "INTEGER",
    "string": "TEXT",
    "object": "TEXT",
    "array": "TEXT",
}


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_name(stream: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", stream) or "stream"


def _is_structured(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type", "string")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return "object" in kinds or "array" in kinds or not kinds or "anyOf" in schema


def column_type(schema: Any) -> str:
    kinds = schema.get("type", "string") if isinstance(schema, dict) else "string"
    if isinstance(kinds, str):
        kinds = [kinds]
    for kind in kinds:
        if kind != "null":
            return SQL_TYPES.get(kind, "TEXT")
    return "TEXT"


class Table:
    def __init__(
        self, db: sqlite3.Connection, stream: str, schema: dict[str, Any], keys: list[str]
    ) -> None:
        self.db = db
        self.name = table_name(stream)
        self.keys = keys
        self.columns: list[str] = []
        self.rows: list[tuple[Any, ...]] = []
        self.sql = ""
        self.types: dict[str, str] = {}
        self.structured = False
        self.update_schema(schema, keys)

    def update_schema(self, schema: dict[str, Any], keys: list[str]) -> None:
        props = schema.get("properties") or {}
        if not isinstance(props, dict):
            raise SingerInputError(f"stream {self.name}: schema properties must be an object")
        missing = [k for k in keys if k not in props]
        if missing:
            raise SingerInputError(f"stream {self.name}: key properties {missing} not in schema")
        existing = {row[1] for row in self.db.execute(f"PRAGMA table_info({quote(self.name)})")}
        if not existing:
            cols = ", ".join(f"{quote(c)} {column_type(s)}" for c, s in props.items())
            pk = f", PRIMARY KEY ({', '.join(quote(k) for k in keys)})" if keys else ""
            self.db.execute(f"CREATE TABLE {quote(self.name)} ({cols}{pk})")
        else:
            for col, sub in props.items():
                if col not in existing:
                    self.db.execute(
                        f"ALTER TABLE {quote(self.name)} ADD COLUMN {quote(col)} {column_type(sub)}"
                    )
        self.flush()
        self.keys = keys
        self.columns = list(dict.fromkeys([*existing, *props]) if existing else props)
        types = {**self.types, **{c: column_type(sub) for c, sub in props.items()}}
        self.types = types
        #: Objects and arrays are stored as JSON text, which needs a conversion per value.
        self.structured = (
            any(isinstance(sub, dict) and _is_structured(sub) for sub in props.values())
            or self.structured
        )
        names = ", ".join(quote(c) for c in self.columns)
        marks = ", ".join("?" for _ in self.columns)
        # Identifiers are quoted by quote(); values are always bound parameters.
        self.sql = f"INSERT INTO {quote(self.name)} ({names}) VALUES ({marks})"  # noqa: S608
        if keys:
            updates = ", ".join(
                f"{quote(c)} = excluded.{quote(c)}" for c in self.columns if c not in keys
            )
            conflict = ", ".join(quote(k) for k in keys)
            self.sql += (
                f" ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
                if updates
                else f" ON CONFLICT ({conflict}) DO NOTHING"
            )

    def add_many(self, records: list[Any]) -> None:
        """Rows for these records; the common case (flat records, every column present) is
        one C-level itemgetter call per record."""
        getter = itemgetter(*self.columns)
        try:
            if self.structured:
                raise LookupError
            rows = list(map(getter, records))
            if len(self.columns) == 1:
                rows = [(value,) for value in rows]
        except (LookupError, TypeError):
            rows = [self._row(record) for record in records]
        self.rows.extend(rows)

    def _row(self, record: Any) -> tuple[Any, ...]:
        if not isinstance(record, dict):
            raise SingerInputError(f"stream {self.name}: RECORD without a record object")
        row = []
        for col in self.columns:
            value = record.get(col)
            if isinstance(value, dict | list):
                value = orjson.dumps(value).decode()
            row.append(value)
        return tuple(row)

    def flush(self) -> None:
        if self.rows:
            self.db.executemany(self.sql, self.rows)
            self.rows.clear()


def _index_of_stream(parsed: list[dict[str, Any]], stream: Any) -> int:
    return next(
        i for i, m in enumerate(parsed) if m["type"] == "RECORD" and m.get("stream") == stream
    )


def main(argv: list[str] | None = None) -> None:
    tune_for_streaming()
    args = parse_args(sys.argv[1:] if argv is None else argv, PROGRAM)
    if not args.get("config"):
        die(PROGRAM, "--config is required (it must name the database)")
    config = read_json_file(str(args["config"]), "config", PROGRAM)
    if not isinstance(config, dict) or not config.get("database"):
        die(PROGRAM, "config is missing the required setting 'database'")
    batch = int(config.get("batch_size") or 10000)
    path = Path(str(config["database"]))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except (OSError, sqlite3.Error) as exc:
        die(PROGRAM, f"cannot open database {path}: {exc}")
    tables: dict[str, Table] = {}
    states = StateEmitter()
    pending = 0
    db.execute("BEGIN")

    def commit() -> None:
        nonlocal pending
        for table in tables.values():
            table.flush()
        db.execute("COMMIT")
        db.execute("BEGIN")
        pending = 0

    try:
        for number, parsed in batches(sys.stdin.buffer):
            for kind, item in segments(parsed):
                if kind == "records":
                    stream, records = item
                    table = tables.get(stream)
                    if table is None:
                        raise SingerInputError(
                            f"line {number + _index_of_stream(parsed, stream)}: RECORD for "
                            f"stream {stream!r} before its SCHEMA"
                        )
                    table.add_many(records)
                    pending += len(records)
                    if pending >= batch:
                        commit()
                elif item["type"] == "SCHEMA":
                    stream, schema = item.get("stream"), item.get("schema")
                    if not isinstance(stream, str) or not isinstance(schema, dict):
                        raise SingerInputError(
                            f"line {number}+: SCHEMA needs a stream and a schema"
                        )
                    keys = list(item.get("key_properties") or [])
                    if stream in tables:
                        tables[stream].update_schema(schema, keys)
                    else:
                        tables[stream] = Table(db, stream, schema, keys)
                elif item["type"] == "STATE":
                    commit()
                    states.emit(item.get("value"))
        commit()
        db.execute("COMMIT")
    except SingerInputError as exc:
        db.execute("ROLLBACK")
        die(PROGRAM, str(exc))
    except sqlite3.Error as exc:
        db.execute("ROLLBACK")
        die(PROGRAM, f"database error: {exc}")
    finally:
        db.close()


if __name__ == "__main__":
    main()
