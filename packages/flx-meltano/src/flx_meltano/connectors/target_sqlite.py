"""target-flx-sqlite: one table per stream, upsert by key properties, growing schemas.

Config: ``database`` (file path, required), ``batch_size`` (records per transaction, default
10000). Objects and arrays are stored as JSON text, in any column. An integer beyond SQLite's
64 bits is handed over as its decimal text, which a TEXT column keeps and an INTEGER column
turns into a REAL (SQLite's type affinity). A later SCHEMA with more properties adds
columns. A STATE is emitted only after the transaction holding the records before it has
committed, so state never runs ahead of the data.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
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
#: Rows per INSERT statement: one statement step for many rows costs far less than a step
#: per row. Wide tables get fewer, within the library's limit on bound parameters.
ROWS_PER_STATEMENT = 100
#: Page size of a new database: larger pages mean fewer page splits and writes per row;
#: an existing database keeps its own.
PAGE_SIZE = 16384

#: SQLite's INTEGER holds 64 bits.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

SQL_TYPES = {
    "integer": "INTEGER",
    "number": "REAL",
    "boolean": "INTEGER",
    "string": "TEXT",
    "object": "TEXT",
    "array": "TEXT",
}


def _as_json(value: dict[str, Any] | list[Any]) -> str:
    return orjson.dumps(value).decode()


# sqlite3 consults adapters only for types it cannot bind itself, so this costs nothing for
# the usual values and stores an object or array as JSON whatever the column's declared type.
sqlite3.register_adapter(dict, _as_json)
sqlite3.register_adapter(list, _as_json)


def _fit(value: Any) -> Any:
    """An integer SQLite cannot hold becomes its decimal text; anything else is kept."""
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        return str(value)
    return value


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_name(stream: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", stream) or "stream"


def column_type(schema: Any) -> str:
    kinds = schema.get("type", "string") if isinstance(schema, dict) else "string"
    if isinstance(kinds, str):
        kinds = [kinds]
    for kind in kinds:
        if kind != "null":
            return SQL_TYPES.get(kind, "TEXT")
    return "TEXT"


def upsert_sql(table: str, columns: list[str], keys: list[str], rows: int) -> str:
    """INSERT of ``rows`` rows; with keys, a row whose key exists replaces its values.

    Rows of one statement are applied in order, so a key twice in a batch ends with the
    later values, as with one statement per row.
    """
    names = ", ".join(quote(c) for c in columns)
    marks = "(" + ", ".join("?" for _ in columns) + ")"
    values = ", ".join([marks] * rows)
    # Identifiers are quoted by quote(); values are always bound parameters.
    sql = f"INSERT INTO {quote(table)} ({names}) VALUES {values}"  # noqa: S608
    if not keys:
        return sql
    conflict = ", ".join(quote(k) for k in keys)
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in keys)
    if not updates:
        return f"{sql} ON CONFLICT ({conflict}) DO NOTHING"
    return f"{sql} ON CONFLICT ({conflict}) DO UPDATE SET {updates}"


class Table:
    """One stream's table: its columns, the INSERT statements, and rows not yet inserted."""

    def __init__(
        self, db: sqlite3.Connection, stream: str, schema: dict[str, Any], keys: list[str]
    ) -> None:
        self.db = db
        self.name = table_name(stream)
        self.keys = keys
        self.columns: list[str] = []
        self.rows: list[tuple[Any, ...]] = []
        self.sql = ""
        self.many_sql = ""
        self.per_statement = 1
        self.types: dict[str, str] = {}
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
        limit = self.db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        most = limit // max(len(self.columns), 1)
        self.per_statement = max(1, min(ROWS_PER_STATEMENT, most))
        self.sql = upsert_sql(self.name, self.columns, keys, 1)
        self.many_sql = upsert_sql(self.name, self.columns, keys, self.per_statement)

    def add_many(self, records: list[Any]) -> None:
        """Rows for these records; the common case (every column present) is one C-level
        itemgetter call per record."""
        getter = itemgetter(*self.columns)
        try:
            rows = list(map(getter, records))
            if len(self.columns) == 1:
                rows = [(value,) for value in rows]
        except (LookupError, TypeError):
            rows = [self._row(record) for record in records]
        self.rows.extend(rows)

    def _row(self, record: Any) -> tuple[Any, ...]:
        if not isinstance(record, dict):
            raise SingerInputError(f"stream {self.name}: RECORD without a record object")
        return tuple(map(record.get, self.columns))

    def flush(self) -> None:
        """Insert the pending rows. An integer too large for SQLite undoes this flush (a
        savepoint), and the rows go again with such integers as text."""
        rows = self.rows
        if not rows:
            return
        self.db.execute("SAVEPOINT flush")
        try:
            self._insert(rows)
        except OverflowError:
            self.db.execute("ROLLBACK TO flush")
            self._insert([tuple(map(_fit, row)) for row in rows])
        self.db.execute("RELEASE flush")
        rows.clear()

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Whole groups through the many-row statement, the rest one row per statement."""
        per = self.per_statement
        grouped = len(rows) - len(rows) % per if per > 1 else 0
        if grouped:
            # All values in one flat sequence, cut into tuples of a statement's worth by
            # zip over one shared iterator: C-level work, no Python code per row.
            values = chain.from_iterable(rows[:grouped])
            width = per * len(self.columns)
            self.db.executemany(self.many_sql, zip(*[values] * width, strict=False))
        if grouped < len(rows):
            self.db.executemany(self.sql, rows[grouped:])


def open_database(path: str) -> sqlite3.Connection:
    """The database in WAL mode with synchronous=NORMAL, in autocommit mode (transactions
    are begun and committed explicitly).

    Durability: a COMMIT appends the transaction to the write-ahead log with a write(),
    so once it returns the data is in the operating system's hands and survives the
    target being killed at any point. WAL with NORMAL syncs to disk only at checkpoints:
    an operating-system crash or power loss may lose the last transactions, never corrupt
    the database. The log also lets others read while the target writes.
    """
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # takes effect only in a new database
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class Loader:
    """Applies messages in order: SCHEMA creates or widens a table, RECORDs are buffered as
    rows, and a STATE commits everything before it, then is emitted."""

    def __init__(self, db: sqlite3.Connection, batch: int) -> None:
        self.db = db
        self.batch = batch
        self.tables: dict[str, Table] = {}
        self.states = StateEmitter()
        self.pending = 0
        db.execute("BEGIN")

    def consume(
        self, numbers: Sequence[int], parsed: list[dict[str, Any]], types: list[Any]
    ) -> None:
        """Apply one batch; ``numbers[i]`` is the input line of ``parsed[i]``."""
        for kind, item, index in segments(parsed, types):
            if kind == "records":
                self.records(*item, line=numbers[index])
            elif item["type"] == "SCHEMA":
                self.schema(item, line=numbers[index])
            elif item["type"] == "STATE":
                self.commit()
                self.states.emit(item.get("value"))

    def records(self, stream: Any, records: list[Any], line: int) -> None:
        table = self.tables.get(stream)
        if table is None:
            raise SingerInputError(f"line {line}: RECORD for stream {stream!r} before its SCHEMA")
        table.add_many(records)
        self.pending += len(records)
        if self.pending >= self.batch:
            self.commit()

    def schema(self, message: dict[str, Any], line: int) -> None:
        stream, schema = message.get("stream"), message.get("schema")
        if not isinstance(stream, str) or not isinstance(schema, dict):
            raise SingerInputError(f"line {line}: SCHEMA needs a stream and a schema")
        keys = list(message.get("key_properties") or [])
        if stream in self.tables:
            self.tables[stream].update_schema(schema, keys)
        else:
            self.tables[stream] = Table(self.db, stream, schema, keys)

    def commit(self) -> None:
        """Insert every pending row and commit; the next transaction begins at once."""
        for table in self.tables.values():
            table.flush()
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")
        self.pending = 0

    def finish(self) -> None:
        self.commit()
        self.db.execute("COMMIT")


def positive_int(value: Any, default: int) -> int | None:
    """``value`` as a positive integer (a number or its digits), ``default`` when unset,
    None when it is anything else."""
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if type(value) is not int or value < 1:
        return None
    return value


def main(argv: list[str] | None = None) -> None:
    tune_for_streaming()
    args = parse_args(sys.argv[1:] if argv is None else argv, PROGRAM)
    if not args.get("config"):
        die(PROGRAM, "--config is required (it must name the database)")
    config = read_json_file(str(args["config"]), "config", PROGRAM)
    if not isinstance(config, dict) or not config.get("database"):
        die(PROGRAM, "config is missing the required setting 'database'")
    batch = positive_int(config.get("batch_size"), 10000)
    if batch is None:
        die(
            PROGRAM,
            f"setting 'batch_size' must be a positive integer, not {config['batch_size']!r}",
        )
    path = str(config["database"])
    try:
        db = open_database(path)
    except (OSError, sqlite3.Error) as exc:
        die(PROGRAM, f"cannot open database {path}: {exc}")
    try:
        loader = Loader(db, batch)
        for numbers, parsed, types in batches(sys.stdin.buffer):
            loader.consume(numbers, parsed, types)
        loader.finish()
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
