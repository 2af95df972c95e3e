"""tap-flx-sample: synthetic ``users``, ``orders`` and ``events``, incremental by ``updated_at``.

Config (all optional): ``rows`` (rows per stream, default 1000), ``seed`` (default 42),
``start_date`` (ISO date of row 0's ``updated_at``, default 2026-01-01), ``streams`` (names
to emit, default all selected ones), ``batch_size`` (records between STATE messages, default
10000). With ``--state``, only rows after each stream's bookmark are emitted: a rerun with the
same ``rows`` emits none, a rerun with more ``rows`` emits only the new ones.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import orjson

from flx_meltano.builtin.catalog import discover, selection
from flx_meltano.builtin.cli import parse_args
from flx_meltano.builtin.errors import ConnectorError, run_connector
from flx_meltano.builtin.sample_data import (
    GENERATORS,
    KEY,
    REPLICATION_KEY,
    SCHEMAS,
    STREAMS,
    Clock,
)
from flx_meltano.builtin.settings import Settings, read_json_object

PROGRAM = "tap-flx-sample"
WRITE_ROWS = 4096  # rows built and written per write() call


@dataclass(frozen=True)
class TapConfig:
    rows: int
    seed: int
    start_date: datetime
    streams: tuple[str, ...] | None
    batch_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TapConfig:
        streams = None
        if settings.values.get("streams") is not None:
            streams = tuple(settings.string_list("streams"))
            unknown = sorted(set(streams) - set(STREAMS))
            if unknown:
                raise ConnectorError(
                    f"the config key 'streams' names unknown streams {unknown}; "
                    f"this tap has {', '.join(STREAMS)}"
                )
        return cls(
            rows=settings.integer("rows", 1000),
            seed=settings.integer("seed", 42, minimum=-(2**63)),
            start_date=settings.moment("start_date", "2026-01-01T00:00:00Z"),
            streams=streams,
            batch_size=settings.integer("batch_size", 10000, minimum=1),
        )


def bookmarks_of(state: dict[str, Any]) -> dict[str, Any]:
    bookmarks = state.get("bookmarks") or {}
    if not isinstance(bookmarks, dict):
        raise ConnectorError('the state file\'s "bookmarks" must be an object')
    return dict(bookmarks)


class SampleSync:
    """Writes SCHEMA, RECORD and STATE messages for the selected streams."""

    def __init__(self, config: TapConfig, bookmarks: dict[str, Any], out: IO[bytes]) -> None:
        self.config = config
        self.bookmarks = bookmarks
        self.out = out
        self.clock = Clock(config.start_date)

    def run(self, wanted: dict[str, tuple[str, ...]]) -> None:
        for stream, properties in wanted.items():
            self.stream(stream, properties)
        self.state()

    def stream(self, stream: str, properties: tuple[str, ...]) -> None:
        config = self.config
        full = SCHEMAS[stream]
        every = len(properties) == len(full["properties"])
        schema = full if every else {**full, "properties": {p: full["properties"][p] for p in properties}}
        self.write_message(
            {
                "type": "SCHEMA",
                "stream": stream,
                "schema": schema,
                "key_properties": [KEY],
                "bookmark_properties": [REPLICATION_KEY],
            }
        )
        first = self.first_row(stream)
        generate = GENERATORS[stream]
        prefix = b'{"type":"RECORD","stream":' + orjson.dumps(stream) + b',"record":'
        dumps = orjson.dumps
        for start in range(first, config.rows, config.batch_size):
            stop = min(start + config.batch_size, config.rows)
            for part in range(start, stop, WRITE_ROWS):
                rows = generate(config.seed, part, min(part + WRITE_ROWS, stop), self.clock)
                if not every:
                    rows = [{p: row[p] for p in properties} for row in rows]
                self.out.write(b"".join([prefix + dumps(row) + b"}\n" for row in rows]))
            self.bookmarks[stream] = {
                "replication_key": REPLICATION_KEY,
                "replication_key_value": self.clock.timestamp(stop - 1),
            }
            self.state()

    def first_row(self, stream: str) -> int:
        bookmark = self.bookmarks.get(stream)
        if not bookmark:
            return 0
        value = bookmark.get("replication_key_value") if isinstance(bookmark, dict) else None
        try:
            return self.clock.first_index_after(str(value)) if value is not None else 0
        except ValueError:
            raise ConnectorError(
                f"the state's bookmark for {stream!r} is not an ISO date-time: {value!r}"
            ) from None

    def state(self) -> None:
        self.write_message({"type": "STATE", "value": {"bookmarks": self.bookmarks}})

    def write_message(self, message: dict[str, Any]) -> None:
        self.out.write(orjson.dumps(message) + b"\n")


def _main(argv: list[str]) -> None:
    args = parse_args(PROGRAM, argv, tap=True)
    out = sys.stdout.buffer
    if args.discover:
        out.write(orjson.dumps(discover(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    if args.config is None:
        raise ConnectorError("--config is required (a file holding {} uses the defaults)")
    config = TapConfig.from_settings(Settings(read_json_object(args.config, "config")))
    catalog = read_json_object(args.catalog, "catalog") if args.catalog else None
    state = read_json_object(args.state, "state") if args.state else {}
    wanted = selection(catalog)
    if config.streams is not None:
        wanted = {name: props for name, props in wanted.items() if name in config.streams}
    SampleSync(config, bookmarks_of(state), out).run(wanted)
    out.flush()


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run_connector(PROGRAM, _main, sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
