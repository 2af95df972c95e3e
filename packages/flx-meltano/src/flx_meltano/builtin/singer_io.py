"""Singer messages in and out: binary line reading without a length limit, batch parsing.

Input is read with ``os.read`` in chunks of up to a MiB: a chunk holds whatever the pipe had,
so a slow tap's lines are handled as they arrive, and a fast tap's lines are parsed a
thousand or so at a time with ``map(orjson.loads, ...)``, which keeps the per-line cost in C.
A line longer than a chunk is collected piece by piece and joined once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from flx_meltano.builtin.errors import InputError

CHUNK_SIZE = 1 << 20
PREVIEW = 80

_loads = orjson.loads
_dumps = orjson.dumps


@dataclass(slots=True)
class LineBatch:
    """Complete lines (without their newline); ``first`` is the number of the first one."""

    first: int
    lines: list[bytes]
    unterminated: bool = False  # the input ended without a newline after the last line


@dataclass(slots=True)
class ParsedBatch:
    """The messages of a batch up to its first bad line, and the error for that line."""

    first: int
    messages: list[Any]
    numbers: list[int] | None  # line number of each message; None when first + index
    error: InputError | None = None

    def line(self, index: int) -> int:
        return self.first + index if self.numbers is None else self.numbers[index]


def line_batches(fd: int, chunk_size: int = CHUNK_SIZE) -> Iterator[LineBatch]:
    """The lines of file descriptor ``fd``, one batch per read that completed a line."""
    partial: list[bytes] = []
    number = 1
    read = os.read
    while chunk := read(fd, chunk_size):
        lines = chunk.split(b"\n")
        rest = lines.pop()
        if not lines:  # still inside one long line
            partial.append(rest)
            continue
        if partial:
            partial.append(lines[0])
            lines[0] = b"".join(partial)
            partial = []
        if rest:
            partial.append(rest)
        yield LineBatch(number, lines)
        number += len(lines)
    if partial:
        yield LineBatch(number, [b"".join(partial)], unterminated=True)


def parse_batch(batch: LineBatch) -> ParsedBatch:
    """Parse every line; the fast path is one ``map`` over the batch."""
    if not batch.unterminated:
        try:
            messages = list(map(_loads, batch.lines))
        except ValueError:  # orjson.JSONDecodeError; the slow path names the line
            pass
        else:
            if set(map(type, messages)) == {dict}:
                return ParsedBatch(batch.first, messages, None)
    return _parse_line_by_line(batch)


def _parse_line_by_line(batch: LineBatch) -> ParsedBatch:
    messages: list[Any] = []
    numbers: list[int] = []
    last = len(batch.lines) - 1
    for offset, line in enumerate(batch.lines):
        number = batch.first + offset
        if not line.strip():
            continue
        try:
            message = _loads(line)
        except ValueError as error:
            message = _loads_beyond_orjson(line)
            if message is None:
                if batch.unterminated and offset == last:
                    problem = "truncated: the input ended in the middle of this line"
                else:
                    problem = f"not valid JSON ({error})"
                return ParsedBatch(
                    batch.first,
                    messages,
                    numbers,
                    InputError(number, f"{problem}: {_preview(line)}"),
                )
        if type(message) is not dict:
            return ParsedBatch(
                batch.first,
                messages,
                numbers,
                InputError(
                    number, f"not a Singer message (expected a JSON object): {_preview(line)}"
                ),
            )
        messages.append(message)
        numbers.append(number)
    return ParsedBatch(batch.first, messages, numbers)


def _loads_beyond_orjson(line: bytes) -> Any:
    """Valid JSON orjson refuses (integers beyond 64 bits) via the standard library, else None."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def _preview(line: bytes) -> str:
    text = line[:PREVIEW].decode("utf-8", "replace")
    return repr(text + ("…" if len(line) > PREVIEW else ""))


def dumps(value: Any) -> bytes:
    """Compact JSON; falls back to the standard library for integers beyond 64 bits."""
    try:
        return _dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def dump_lines(values: list[Any]) -> bytes:
    """Values as JSON lines, each ending with a newline."""
    try:
        return b"\n".join(map(_dumps, values)) + b"\n"
    except TypeError:
        return b"".join([dumps(value) + b"\n" for value in values])


def emit_state(out: IO[bytes], value: Any) -> None:
    """Write a state to the target's stdout: the bare value, as Singer targets do."""
    out.write(dumps(value) + b"\n")
    out.flush()
