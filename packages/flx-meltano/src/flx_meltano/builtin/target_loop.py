"""The loop every built-in target shares: route messages to a sink, emit state safely.

Records are collected per stream for a whole input batch and handed to the sink in one call.
A STATE is held until the end of the batch; then the sink persists everything it was given
and only then is the latest state written to stdout, so a state never covers a record that
is not on disk. Several states in one batch collapse into the last one.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Protocol

from flx_meltano.builtin.errors import ConnectorError, InputError
from flx_meltano.builtin.singer_io import ParsedBatch, emit_state, line_batches, parse_batch

IGNORED_TYPES = frozenset({"ACTIVATE_VERSION"})


class Sink(Protocol):
    """Where a target puts records; errors it raises are ConnectorErrors."""

    def schema(self, stream: str, schema: dict[str, Any], key_properties: list[str]) -> None:
        """A SCHEMA message; records of ``stream`` given earlier were already written."""

    def write(self, stream: str, records: list[dict[str, Any]]) -> None:
        """Records of one stream, in input order."""

    def flush(self) -> None:
        """Persist everything written so far (a state is emitted right after)."""

    def close(self) -> None:
        """Release files and connections; called after the last flush."""


class _NoState:
    pass


NO_STATE: Any = _NoState()


class Router:
    """Routes parsed messages into per-stream buckets and remembers the latest state."""

    def __init__(self, program: str, sink: Sink) -> None:
        self.program = program
        self.sink = sink
        self.buckets: dict[str, list[dict[str, Any]]] = {}
        self.state: Any = NO_STATE
        self.warned: set[str] = set()

    def route(self, batch: ParsedBatch) -> None:
        buckets = self.buckets
        for index, message in enumerate(batch.messages):
            kind = message.get("type")
            if kind == "RECORD":
                stream = message.get("stream")
                try:
                    bucket = buckets[stream]
                except (KeyError, TypeError):
                    raise InputError(
                        batch.line(index), f"RECORD for stream {stream!r}, which has no SCHEMA yet"
                    ) from None
                record = message.get("record")
                if record.__class__ is not dict:
                    raise InputError(batch.line(index), 'RECORD without a "record" object')
                bucket.append(record)
            elif kind == "STATE":
                if "value" not in message:
                    raise InputError(batch.line(index), 'STATE without a "value"')
                self.state = message["value"]
            elif kind == "SCHEMA":
                self._schema(message, batch.line(index))
            elif kind is None:
                raise InputError(batch.line(index), 'not a Singer message (no "type")')
            elif kind not in IGNORED_TYPES:
                self._warn_once(str(kind), batch.line(index))

    def drain(self) -> None:
        """Hand every collected record to the sink."""
        for stream, bucket in self.buckets.items():
            if bucket:
                self.sink.write(stream, bucket)
                self.buckets[stream] = []

    def _schema(self, message: dict[str, Any], line: int) -> None:
        stream = message.get("stream")
        schema = message.get("schema")
        keys = message.get("key_properties") or []
        if not isinstance(stream, str) or not stream:
            raise InputError(line, 'SCHEMA without a "stream" name')
        if not isinstance(schema, dict):
            raise InputError(line, f'SCHEMA for stream {stream!r} without a "schema" object')
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise InputError(line, f"SCHEMA for stream {stream!r}: key_properties must be names")
        self.drain()
        try:
            self.sink.schema(stream, schema, keys)
        except ConnectorError as error:
            raise InputError(line, str(error)) from None
        self.buckets.setdefault(stream, [])

    def _warn_once(self, kind: str, line: int) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            sys.stderr.write(f"{self.program}: warning: line {line}: ignoring {kind} messages\n")


def run_target(program: str, sink: Sink, *, fd: int = 0, out: IO[bytes] | None = None) -> None:
    """Read Singer messages from ``fd`` into ``sink`` until the input ends."""
    out = sys.stdout.buffer if out is None else out
    router = Router(program, sink)
    try:
        for batch in line_batches(fd):
            parsed = parse_batch(batch)
            error = parsed.error
            try:
                router.route(parsed)
            except InputError as raised:
                error = raised
            # Whatever came before a bad line is good: persist it and pass its state on.
            router.drain()
            if router.state is not NO_STATE:
                sink.flush()
                emit_state(out, router.state)
                router.state = NO_STATE
            if error is not None:
                raise error
        router.drain()
        sink.flush()
    finally:
        sink.close()
