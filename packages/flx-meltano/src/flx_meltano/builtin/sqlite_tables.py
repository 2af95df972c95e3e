"""Tables for Singer streams in SQLite: safe names, column types, creation and growth.

A stream becomes a table named after it (characters outside ``[A-Za-z0-9_]`` turned into
``_``), every identifier is quoted, columns come from the JSON schema's properties, and a
later SCHEMA with more properties adds the new columns. Keyed streams get a primary key (or,
for a table made earlier with another key, a unique index) so records are upserted.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from flx_meltano.builtin.errors import ConnectorError

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_AFFINITY = {
    "integer": "INTEGER",
    "number": "REAL",
    "boolean": "INTEGER",
    "string": "TEXT",
    "object": "TEXT",  # stored as JSON text
    "array": "TEXT",
}

Rows = Callable[[list[dict[str, Any]]], list[Any]]


def table_name(stream: str) -> str:
    name = _UNSAFE.sub("_", stream)
    if not name or name[0].isdigit() or name.lower().startswith("sqlite_"):
        name = f"_{name}"
    return name


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def column_type(schema: Any) -> str:
    """The SQLite type for a property's JSON schema; none (any value) when it is unclear."""
    if not isinstance(schema, dict):
        return ""
    kinds = schema.get("type")
    if kinds is None and isinstance(schema.get("anyOf"), list):
        kinds = [option.get("type") for option in schema["anyOf"] if isinstance(option, dict)]
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list):
        return ""
    found = {_AFFINITY.get(kind, "") for kind in kinds if kind != "null"}
    if found == {"INTEGER", "REAL"}:
        return "REAL"
    return found.pop() if len(found) == 1 else ""


@dataclass
class StreamTable:
    """One stream's table and the statement that writes a batch of its records."""

    stream: str
    name: str
    keys: tuple[str, ...]
    columns: list[str]
    sql: str
    rows: Rows

    def insert(self, connection: sqlite3.Connection, records: list[dict[str, Any]]) -> None:
        connection.executemany(self.sql, self.rows(records))


def row_builder(columns: list[str]) -> Rows:
    """Records -> parameter tuples; ``itemgetter`` keeps it in C, ``dict.get`` fills gaps."""
    getter = itemgetter(*columns)
    single = len(columns) == 1

    def rows(records: list[dict[str, Any]]) -> list[Any]:
        try:
            values = list(map(getter, records))
        except KeyError:  # some record lacks a property: it becomes NULL
            return [tuple(map(record.get, columns)) for record in records]
        return [(value,) for value in values] if single else values

    return rows


def upsert_sql(table: str, columns: list[str], keys: tuple[str, ...]) -> str:
    names = ", ".join(map(quote, columns))
    sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join('?' * len(columns))})"
    if not keys:
        return sql
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in keys)
    target = ", ".join(map(quote, keys))
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return f"{sql} ON CONFLICT ({target}) {action}"


class TableManager:
    """Creates and grows the tables of one database."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.tables: dict[str, StreamTable] = {}
        self.owners: dict[str, str] = {}  # table name (case-folded) -> stream

    def ensure(self, stream: str, schema: dict[str, Any], keys: list[str]) -> StreamTable:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        known = self.tables.get(stream)
        wanted = list(known.columns) if known else []
        for column in [*keys, *properties]:
            if column not in wanted:
                wanted.append(column)
        if not wanted:
            raise ConnectorError(f"the SCHEMA for stream {stream!r} has no properties")
        _check_distinct(stream, wanted)
        name = known.name if known else self._claim(stream)
        existing = self._columns(name)
        if not existing:
            self._create(name, wanted, properties, tuple(keys))
        else:
            lowered = {column.lower() for column in existing}
            for column in wanted:
                if column.lower() not in lowered:
                    self._execute(
                        f"ALTER TABLE {quote(name)} ADD COLUMN {quote(column)} "
                        f"{column_type(properties.get(column))}".rstrip()
                    )
            self._ensure_key(name, tuple(keys))
        table = StreamTable(
            stream, name, tuple(keys), wanted, upsert_sql(name, wanted, tuple(keys)), row_builder(wanted)
        )
        self.tables[stream] = table
        return table

    def _claim(self, stream: str) -> str:
        name = table_name(stream)
        owner = self.owners.setdefault(name.lower(), stream)
        if owner != stream:
            raise ConnectorError(f"streams {owner!r} and {stream!r} would share the table {name}")
        return name

    def _columns(self, table: str) -> list[str]:
        return [row[1] for row in self._execute(f"PRAGMA table_info({quote(table)})").fetchall()]

    def _create(
        self, table: str, columns: list[str], properties: dict[str, Any], keys: tuple[str, ...]
    ) -> None:
        parts = [f"{quote(c)} {column_type(properties.get(c))}".rstrip() for c in columns]
        if keys:
            parts.append(f"PRIMARY KEY ({', '.join(map(quote, keys))})")
        self._execute(f"CREATE TABLE {quote(table)} ({', '.join(parts)})")

    def _ensure_key(self, table: str, keys: tuple[str, ...]) -> None:
        """Upserts need a unique constraint on exactly the key columns."""
        if not keys:
            return
        info = self._execute(f"PRAGMA table_info({quote(table)})").fetchall()
        primary = {row[1].lower() for row in info if row[5]}
        if primary == {key.lower() for key in keys}:
            return
        index = quote(f"{table}__key_{'_'.join(keys)}")
        self._execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {quote(table)} "
            f"({', '.join(map(quote, keys))})"
        )

    def _execute(self, sql: str) -> sqlite3.Cursor:
        try:
            return self.connection.execute(sql)
        except sqlite3.Error as error:
            raise ConnectorError(f"{error} (while running: {sql})") from None


def _check_distinct(stream: str, columns: list[str]) -> None:
    seen: dict[str, str] = {}
    for column in columns:
        other = seen.setdefault(column.lower(), column)
        if other != column:
            raise ConnectorError(
                f"stream {stream!r} has properties {other!r} and {column!r}, "
                "which are one column in SQLite"
            )
