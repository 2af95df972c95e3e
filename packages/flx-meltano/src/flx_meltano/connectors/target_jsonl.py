"""target-flx-jsonl: one ``<stream>.jsonl`` file per stream, records only.

Config: ``destination_path`` (directory, default ``output``), ``do_timestamp_file`` (add a
timestamp to the file names). A STATE is emitted only after every record before it has
been written and flushed to the files.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path
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
BATCH = 5000


def safe_name(stream: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stream) or "stream"


class JsonlWriter:
    def __init__(self, directory: Path, timestamp: str) -> None:
        self.directory = directory
        self.timestamp = timestamp
        self.files: dict[str, IO[bytes]] = {}
        self.buffers: dict[str, list[bytes]] = {}

    def add_many(self, stream: str, records: list[Any]) -> None:
        buf = self.buffers[stream]
        buf.extend(map(orjson.dumps, records))
        if len(buf) >= BATCH:
            self._write(stream)

    def open(self, stream: str) -> None:
        if stream in self.files:
            return
        name = safe_name(stream) + (f"-{self.timestamp}" if self.timestamp else "") + ".jsonl"
        self.files[stream] = (self.directory / name).open("ab")
        self.buffers[stream] = []

    def _write(self, stream: str) -> None:
        buf = self.buffers[stream]
        if buf:
            self.files[stream].write(b"\n".join(buf) + b"\n")
            buf.clear()

    def flush(self) -> None:
        for stream, fh in self.files.items():
            self._write(stream)
            fh.flush()

    def close(self) -> None:
        self.flush()
        for fh in self.files.values():
            fh.close()


def _index_of_stream(parsed: list[dict[str, Any]], stream: Any) -> int:
    return next(
        i for i, m in enumerate(parsed) if m["type"] == "RECORD" and m.get("stream") == stream
    )


def main(argv: list[str] | None = None) -> None:
    tune_for_streaming()
    args = parse_args(sys.argv[1:] if argv is None else argv, PROGRAM)
    config: dict[str, Any] = {}
    if args.get("config"):
        config = read_json_file(str(args["config"]), "config", PROGRAM)
        if not isinstance(config, dict):
            die(PROGRAM, "the config must be a JSON object")
    directory = Path(str(config.get("destination_path") or "output"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        die(PROGRAM, f"cannot create destination_path {directory}: {exc.strerror}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") if config.get("do_timestamp_file") else ""
    writer = JsonlWriter(directory, stamp)
    states = StateEmitter()
    try:
        for number, parsed in batches(sys.stdin.buffer):
            for kind, item in segments(parsed):
                if kind == "records":
                    stream, records = item
                    if stream not in writer.files:
                        line = number + _index_of_stream(parsed, stream)
                        raise SingerInputError(
                            f"line {line}: RECORD for stream {stream!r} before its SCHEMA"
                        )
                    writer.add_many(stream, records)
                elif item["type"] == "SCHEMA":
                    stream = item.get("stream")
                    if not isinstance(stream, str):
                        raise SingerInputError(f"line {number}+: SCHEMA without a stream name")
                    writer.open(stream)
                elif item["type"] == "STATE":
                    writer.flush()
                    states.emit(item.get("value"))
    except SingerInputError as exc:
        writer.close()
        die(PROGRAM, str(exc))
    writer.close()


if __name__ == "__main__":
    main()
