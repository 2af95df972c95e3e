"""Reading and writing Singer messages for the built-in connectors (orjson, no line limit).

The targets spend their time here, so the per-message work is done by C-level calls over a
whole batch (``map`` with ``operator.itemgetter`` or ``dict.get``, ``itertools.groupby``)
and Python code runs once per batch or per run of records, not once per message.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator, Sequence
from itertools import groupby, repeat
from operator import itemgetter
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
    # Plain open(), not pathlib: the connectors start in tens of milliseconds and pathlib
    # alone would add several to every run.
    try:
        with open(path, "rb") as fh:
            return orjson.loads(fh.read())
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
    a last line without a newline comes out as it is. Each read is split where it lies,
    without first being copied up to its last newline.
    """
    parts: list[bytes] = []  # the unfinished line, in pieces
    while chunk := os.read(fd, BATCH_BYTES):
        lines = chunk.splitlines(keepends=True)
        if parts:
            parts.append(lines[0])
            if not lines[0].endswith(b"\n") and len(lines) == 1:
                continue
            # The piece before may end in "\r": split again as if the read had been whole.
            lines[:1] = b"".join(parts).splitlines(keepends=True)
            parts = []
        if not lines[-1].endswith(b"\n"):
            parts.append(lines.pop())
        if lines:
            yield lines
    if parts:
        yield b"".join(parts).splitlines(keepends=True)


_type_of = itemgetter("type")


def batches(stream: Any) -> Iterator[tuple[Sequence[int], list[dict[str, Any]], list[Any]]]:
    """(line numbers, messages, their types) for each batch of complete lines;
    ``numbers[i]`` is the line of ``messages[i]``, for error messages.

    The common batch (every line a JSON object with a "type") is parsed and checked by two
    C-level ``map`` calls: ``itemgetter("type")`` fails on a non-object or a missing
    "type". Any other batch (blank, bad or unfinished lines) goes through :func:`messages`
    line by line, which skips blank lines and names the first bad one.
    """
    loads = orjson.loads
    number = 1
    for lines in line_batches(stream.fileno()):
        numbers: Sequence[int]
        try:
            parsed = list(map(loads, lines))
            if not lines[-1].endswith(b"\n"):
                raise ValueError
            # A list, a string or a number raises TypeError, an object without "type" KeyError.
            types = list(map(_type_of, parsed))
            numbers = range(number, number + len(parsed))
        except (ValueError, TypeError, KeyError):  # orjson.JSONDecodeError is a ValueError
            pairs = list(messages(lines, start=number))
            numbers = [n for n, _ in pairs]
            parsed = [m for _, m in pairs]
            types = list(map(_type_of, parsed))
        yield numbers, parsed, types
        number += len(lines)


def _record_runs(
    parsed: list[dict[str, Any]], streams: list[Any], start: int, end: int
) -> Iterator[tuple[str, Any, int]]:
    """The runs of one stream among RECORDs ``start:end``, as :func:`segments` yields them."""
    if start == end:
        return
    ours = streams[start:end]
    if ours.count(ours[0]) == len(ours):  # one stream: the usual case
        runs: Iterator[tuple[Any, int]] = iter([(ours[0], len(ours))])
    else:
        runs = ((stream, len(list(run))) for stream, run in groupby(ours))
    get = dict.get
    for stream, size in runs:
        chunk = parsed if size == len(parsed) else parsed[start : start + size]
        yield "records", (stream, list(map(get, chunk, repeat("record")))), start
        start += size


def segments(parsed: list[dict[str, Any]], types: list[Any]) -> Iterator[tuple[str, Any, int]]:
    """Runs of the batch, in order, each with the index of its first message:
    ("records", (stream, [records]), index) for consecutive RECORDs of one stream,
    ("message", message, index) for anything else.

    A RECORD without "record" gives None (each target says what that means). Only the
    few other messages are visited one by one in Python; records are picked out of the
    batch by C-level calls.
    """
    size = len(parsed)
    others = (
        [i for i, t in enumerate(types) if t != "RECORD"] if types.count("RECORD") < size else []
    )
    streams = list(map(dict.get, parsed, repeat("stream")))
    start = 0
    for index in others:
        yield from _record_runs(parsed, streams, start, index)
        yield "message", parsed[index], index
        start = index + 1
    yield from _record_runs(parsed, streams, start, size)


class StateEmitter:
    """Writes STATE messages to stdout; targets call it only after the data is flushed."""

    def __init__(self) -> None:
        self.out = sys.stdout.buffer

    def emit(self, value: Any) -> None:
        # Targets print the bare state value, as Singer targets do and Meltano expects.
        self.out.write(orjson.dumps(value) + b"\n")
        self.out.flush()
