"""Reading and writing Singer messages for the built-in connectors (orjson, no line limit)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import orjson


class SingerInputError(Exception):
    """Bad input; the message names the line and the problem."""


def die(program: str, message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"{program}: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def parse_args(argv: list[str], program: str) -> dict[str, str | bool]:
    """The Singer flags: --config, --state, --catalog, --properties, --discover, --about."""
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--discover", "--about"):
            out[arg[2:]] = True
        elif arg in ("--config", "-c", "--state", "-s", "--catalog", "--properties", "-p"):
            if i + 1 >= len(argv):
                die(program, f"{arg} needs a file name")
            key = {"-c": "config", "-s": "state", "-p": "properties"}.get(arg, arg[2:])
            out[key] = argv[i + 1]
            i += 1
        else:
            die(program, f"unknown argument {arg!r}")
        i += 1
    return out


def read_json_file(path: str, what: str, program: str) -> Any:
    try:
        return orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        die(program, f"cannot read {what} file {path}: {exc.strerror}")
    except orjson.JSONDecodeError as exc:
        die(program, f"{what} file {path} is not valid JSON: {exc}")


def messages(stream: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, message) for each line; a bad line raises SingerInputError."""
    loads = orjson.loads
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            message = loads(line)
        except orjson.JSONDecodeError:
            preview = line[:60].decode("utf-8", "replace").rstrip("\n")
            if not line.endswith(b"\n"):
                raise SingerInputError(
                    f"line {number} is truncated (no newline, not valid JSON): {preview!r}"
                ) from None
            raise SingerInputError(f"line {number} is not valid JSON: {preview!r}") from None
        if not isinstance(message, dict) or "type" not in message:
            raise SingerInputError(f'line {number} is not a Singer message (no "type")')
        yield number, message


class StateEmitter:
    """Writes STATE messages to stdout; targets call it only after the data is flushed."""

    def __init__(self) -> None:
        self.pending: Any = None
        self.out = sys.stdout.buffer

    def emit(self, value: Any) -> None:
        # Targets print the bare state value, as Singer targets do and Meltano expects.
        self.out.write(orjson.dumps(value) + b"\n")
        self.out.flush()
