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
    die,
    messages,
    parse_args,
    read_json_file,
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

    def add(self, stream: str, record: Any) -> None:
        buf = self.buffers[stream]
        buf.append(orjson.dumps(record))
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


def main(argv: list[str] | None = None) -> None:
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
    pending_state: Any = None
    try:
        for number, message in messages(sys.stdin.buffer):
            kind = message["type"]
            if kind == "RECORD":
                stream = message.get("stream")
                if stream not in writer.files:
                    raise SingerInputError(
                        f"line {number}: RECORD for stream {stream!r} before its SCHEMA"
                    )
                writer.add(stream, message.get("record"))
            elif kind == "SCHEMA":
                stream = message.get("stream")
                if not isinstance(stream, str):
                    raise SingerInputError(f"line {number}: SCHEMA without a stream name")
                writer.open(stream)
            elif kind == "STATE":
                pending_state = message.get("value")
                writer.flush()
                states.emit(pending_state)
                pending_state = None
    except SingerInputError as exc:
        writer.close()
        die(PROGRAM, str(exc))
    writer.close()


if __name__ == "__main__":
    main()
