"""Reading and writing Singer messages for the built-in connectors (orjson, no line limit)."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import orjson

from flx_meltano.allocator import tune_allocator


def tune_for_streaming() -> None:
    """Settings for a process that streams millions of short-lived messages.

    Messages never form reference cycles, yet the cycle collector would walk the live batch
    every 700 container allocations; a high first threshold keeps it as a safety net only.
    Freed megabyte buffers stay in the process (see flx_meltano.allocator).
    """
    gc.set_threshold(100_000, 20, 20)
    tune_allocator()


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


def messages(stream: Any, start: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, message) for each line; a bad line raises SingerInputError."""
    loads = orjson.loads
    for number, line in enumerate(stream, start=start):
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


BATCH_BYTES = 1 << 20


def line_batches(fd: int) -> Iterator[list[bytes]]:
    """Complete lines as they arrive: whatever one read returns (up to a MiB), split.

    Unlike ``readlines(hint)`` this never waits for a full MiB, so a STATE that arrives on
    its own is handled at once. A line longer than a read is gathered whole, at any size;
    a last line without a newline comes out as it is.
    """
    parts: list[bytes] = []
    while chunk := os.read(fd, BATCH_BYTES):
        last = chunk.rfind(b"\n")
        if last < 0:
            parts.append(chunk)
            continue
        if parts:
            parts.append(chunk[: last + 1])
            block = b"".join(parts)
            parts = []
        else:
            block = chunk[: last + 1]
        if last + 1 < len(chunk):
            parts.append(chunk[last + 1 :])
        yield block.splitlines(keepends=True)
    if parts:
        yield [b"".join(parts)]


def batches(stream: Any) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(number of the first line, messages) for each batch of complete lines.

    Parsing a whole batch with ``map`` keeps the per-line cost in C; a batch with a blank,
    bad or unfinished line goes through :func:`messages` line by line, which names it.
    """
    loads = orjson.loads
    number = 1
    for lines in line_batches(stream.fileno()):
        try:
            parsed = list(map(loads, lines))
            if not lines[-1].endswith(b"\n") or any(type(m) is not dict for m in parsed):
                raise ValueError
        except ValueError:  # orjson.JSONDecodeError is a ValueError
            parsed = [message for _, message in messages(lines, start=number)]
        for message in parsed:
            if "type" not in message:
                bad = number + parsed.index(message)
                raise SingerInputError(f'line {bad} is not a Singer message (no "type")')
        yield number, parsed
        number += len(lines)


def segments(parsed: list[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Runs of the batch: ("records", (stream, [records])) for consecutive RECORDs of one
    stream, ("message", message) for anything else, in order."""
    start = 0
    size = len(parsed)
    while start < size:
        first = parsed[start]
        if first["type"] != "RECORD":
            yield "message", first
            start += 1
            continue
        stream = first.get("stream")
        end = start + 1
        while (
            end < size and parsed[end]["type"] == "RECORD" and (parsed[end].get("stream") == stream)
        ):
            end += 1
        yield "records", (stream, [m.get("record") for m in parsed[start:end]])
        start = end


class StateEmitter:
    """Writes STATE messages to stdout; targets call it only after the data is flushed."""

    def __init__(self) -> None:
        self.pending: Any = None
        self.out = sys.stdout.buffer

    def emit(self, value: Any) -> None:
        # Targets print the bare state value, as Singer targets do and Meltano expects.
        self.out.write(orjson.dumps(value) + b"\n")
        self.out.flush()
