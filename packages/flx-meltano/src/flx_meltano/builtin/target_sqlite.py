"""target-flx-sqlite: one table per stream in a SQLite database, upserting by key properties.

Config: ``database`` (path of the database file, required), ``batch_size`` (records per
transaction, default 10000). Objects and arrays are stored as JSON text. A state is emitted
only after the transaction holding every record before it has committed. The database uses
WAL with ``synchronous=NORMAL``: a committed batch survives the process dying, and an
operating system crash can lose at most the last batches, which a rerun from the last
committed state writes again (upserts make that harmless for keyed streams).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

import orjson

from flx_meltano.builtin.cli import parse_args
from flx_meltano.builtin.errors import ConnectorError, run_connector
from flx_meltano.builtin.memory import keep_freed_memory
from flx_meltano.builtin.settings import Settings, read_json_object
from flx_meltano.builtin.sqlite_tables import StreamTable, TableManager
from flx_meltano.builtin.target_loop import run_target

PROGRAM = "target-flx-sqlite"


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqliteSink:
    def __init__(self, path: Path, batch_size: int) -> None:
        # Objects and arrays bind as JSON text; plain values skip the adapter lookup entirely.
        sqlite3.register_adapter(dict, _json_text)
        sqlite3.register_adapter(list, _json_text)
        self.path = path
        self.batch_size = batch_size
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(path, isolation_level=None)
            self.connection.execute("PRAGMA journal_mode = WAL")
            self.connection.execute("PRAGMA synchronous = NORMAL")
        except (OSError, sqlite3.Error) as error:
            raise ConnectorError(f"cannot open the database {path}: {error}") from None
        self.manager = TableManager(self.connection)
        self.pending: dict[str, list[dict[str, Any]]] = {}

    def schema(self, stream: str, schema: dict[str, Any], key_properties: list[str]) -> None:
        self._commit([stream])  # earlier records go in with the columns they were sent with
        self.manager.ensure(stream, schema, key_properties)

    def write(self, stream: str, records: list[dict[str, Any]]) -> None:
        pending = self.pending.setdefault(stream, [])
        pending += records
        if len(pending) >= self.batch_size:
            self._commit([stream])

    def flush(self) -> None:
        self._commit(list(self.pending))

    def close(self) -> None:
        try:
            if self.connection.in_transaction:
                self.connection.rollback()
            self.connection.close()
        except sqlite3.Error:
            pass  # the error that stopped the run was already reported

    def _commit(self, streams: list[str]) -> None:
        """Write the pending records of ``streams`` in one transaction."""
        batches = [(s, self.pending.pop(s)) for s in streams if self.pending.get(s)]
        if not batches:
            return
        connection = self.connection
        stream = batches[0][0]
        try:
            connection.execute("BEGIN")
            for stream, records in batches:
                table: StreamTable = self.manager.tables[stream]
                table.insert(connection, records)
            connection.execute("COMMIT")
        except (sqlite3.Error, OverflowError) as error:
            if connection.in_transaction:
                connection.rollback()
            raise ConnectorError(
                f"writing records of stream {stream!r} to {self.path} failed: {error}"
            ) from None


def _main(argv: list[str]) -> None:
    args = parse_args(PROGRAM, argv, tap=False)
    if args.config is None:
        raise ConnectorError("--config is required (it names the database)")
    settings = Settings(read_json_object(args.config, "config"))
    path = Path(settings.string("database")).expanduser()
    batch_size = settings.integer("batch_size", 10000, minimum=1)
    keep_freed_memory()
    run_target(PROGRAM, SqliteSink(path, batch_size))


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run_connector(PROGRAM, _main, sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
