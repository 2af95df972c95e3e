"""target-flx-jsonl: one ``<stream>.jsonl`` file per stream, records only.

Config: ``destination_path`` (directory, default ``output``), ``do_timestamp_file`` (add a
timestamp to the file names). A STATE is emitted only after every record before it has
been written and flushed to the files.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from itertools import repeat
from typing import IO, Any

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

PROGRAM = "target-flx-jsonl"
NEWLINE = orjson.OPT_APPEND_NEWLINE


def safe_name(stream: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stream) or "stream"


def serialize(records: list[Any]) -> bytes:
    """The records as JSON lines, in one buffer: each ``dumps`` adds its own newline, and
    ``map`` passes orjson's positional default and option, with no Python call per record."""
    return b"".join(map(orjson.dumps, records, repeat(None), repeat(NEWLINE)))


class JsonlWriter:
    """One append-mode file per stream.

    A run of records (up to one read of input, about a MiB) is written as one buffer, which
    goes straight to the file; :meth:`flush` pushes what is left to the operating system.
    """

    def __init__(self, directory: str, timestamp: str) -> None:
        self.directory = directory
        self.timestamp = timestamp
        self.files: dict[str, IO[bytes]] = {}

    def add_many(self, stream: str, records: list[Any]) -> None:
        self.files[stream].write(serialize(records))

    def open(self, stream: str) -> None:
        if stream in self.files:
            return
        name = safe_name(stream) + (f"-{self.timestamp}" if self.timestamp else "") + ".jsonl"
        self.files[stream] = open(os.path.join(self.directory, name), "ab")

    def flush(self) -> None:
        for fh in self.files.values():
            fh.flush()

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def consume(
    writer: JsonlWriter,
    states: StateEmitter,
    numbers: Sequence[int],
    parsed: list[dict[str, Any]],
    types: list[Any],
) -> None:
    """Apply one batch of messages, in order."""
    for kind, item, index in segments(parsed, types):
        if kind == "records":
            stream, records = item
            if stream not in writer.files:
                raise SingerInputError(
                    f"line {numbers[index]}: RECORD for stream {stream!r} before its SCHEMA"
                )
            writer.add_many(stream, records)
        elif item["type"] == "SCHEMA":
            stream = item.get("stream")
            if not isinstance(stream, str):
                raise SingerInputError(f"line {numbers[index]}: SCHEMA without a stream name")
            writer.open(stream)
        elif item["type"] == "STATE":
            writer.flush()
            states.emit(item.get("value"))


def main(argv: list[str] | None = None) -> None:
    tune_for_streaming()
    args = parse_args(sys.argv[1:] if argv is None else argv, PROGRAM)
    config: dict[str, Any] = {}
    if args.get("config"):
        config = read_json_file(str(args["config"]), "config", PROGRAM)
        if not isinstance(config, dict):
            die(PROGRAM, "the config must be a JSON object")
    directory = str(config.get("destination_path") or "output")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        die(PROGRAM, f"cannot create destination_path {directory}: {exc.strerror}")
    stamp = ""
    if config.get("do_timestamp_file"):
        from datetime import UTC, datetime  # only here: start-up time matters per run

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    writer = JsonlWriter(directory, stamp)
    states = StateEmitter()
    try:
        for numbers, parsed, types in batches(sys.stdin.buffer):
            consume(writer, states, numbers, parsed, types)
    except SingerInputError as exc:
        writer.close()
        die(PROGRAM, str(exc))
    writer.close()


if __name__ == "__main__":
    main()
