"""target-flx-jsonl: each stream's records into ``<destination_path>/<stream>.jsonl``.

Config: ``destination_path`` (directory, default ``output``), ``do_timestamp_file`` (add a
``-YYYYMMDDTHHMMSS`` suffix to the file names, default false). Files are appended to.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from flx_meltano.builtin.cli import parse_args
from flx_meltano.builtin.errors import ConnectorError, run_connector
from flx_meltano.builtin.memory import keep_freed_memory
from flx_meltano.builtin.settings import Settings, read_json_object
from flx_meltano.builtin.singer_io import dump_lines
from flx_meltano.builtin.target_loop import run_target

PROGRAM = "target-flx-jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def file_stem(stream: str) -> str:
    """A file name for a stream that cannot leave the destination directory."""
    return _UNSAFE.sub("_", stream).lstrip(".") or "_"


class JsonlSink:
    def __init__(self, directory: Path, suffix: str) -> None:
        self.directory = directory
        self.suffix = suffix
        self.files: dict[str, IO[bytes]] = {}
        self.owners: dict[Path, str] = {}

    def schema(self, stream: str, schema: dict[str, Any], key_properties: list[str]) -> None:
        if stream in self.files:
            return
        path = self.directory / f"{file_stem(stream)}{self.suffix}.jsonl"
        if path in self.owners:
            raise ConnectorError(
                f"streams {self.owners[path]!r} and {stream!r} would share the file {path.name}"
            )
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.files[stream] = path.open("ab")
        except OSError as error:
            raise ConnectorError(f"cannot open {path}: {error.strerror}") from None
        self.owners[path] = stream

    def write(self, stream: str, records: list[dict[str, Any]]) -> None:
        self.files[stream].write(dump_lines(records))

    def flush(self) -> None:
        for handle in self.files.values():
            handle.flush()

    def close(self) -> None:
        for handle in self.files.values():
            try:
                handle.close()
            except OSError:
                pass  # the error that stopped the run was already reported


def _main(argv: list[str]) -> None:
    args = parse_args(PROGRAM, argv, tap=False)
    settings = Settings(read_json_object(args.config, "config") if args.config else {})
    directory = Path(settings.string("destination_path", "output")).expanduser()
    stamped = settings.boolean("do_timestamp_file", False)
    keep_freed_memory()
    suffix = datetime.now(UTC).strftime("-%Y%m%dT%H%M%S") if stamped else ""
    run_target(PROGRAM, JsonlSink(directory, suffix))


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run_connector(PROGRAM, _main, sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
