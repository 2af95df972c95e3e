"""The data path: tap stdout to the first downstream stdin, in big chunks, counting records.

One thread, two syscalls per chunk, and counting done on the chunk after it has been
handed on, so the consumer keeps working while the relay counts. Only complete lines are
forwarded: an unfinished line waits (whatever its size) until its newline arrives.
"""

from __future__ import annotations

import os
import time

import orjson
import structlog

from flx_meltano.runner.counting import RecordCounter
from flx_meltano.runner.errors import DownstreamClosedError, TruncatedOutputError
from flx_meltano.runner.pipes import close_quietly, write_all

logger = structlog.get_logger(__name__)

CHUNK_SIZE = 1 << 20


class Relay:
    def __init__(self, source_fd: int, sink_fd: int, *, source: str, sink: str) -> None:
        self._source_fd = source_fd
        self._sink_fd = sink_fd
        self._source = source
        self._sink = sink
        self.counter = RecordCounter()
        self.bytes = 0
        self.broken_at: float | None = None
        """``time.monotonic()`` when the sink turned out to be closed, taken in the relay
        thread: when the event loop learns of it may be much later."""

    def run(self) -> None:
        """Relay until the source ends; close both ends so the sink sees end of file."""
        try:
            self._relay()
        except BrokenPipeError:
            self.broken_at = time.monotonic()
            raise DownstreamClosedError(self._sink) from None
        finally:
            close_quietly(self._source_fd, self._sink_fd)

    def _relay(self) -> None:
        source, sink, count = self._source_fd, self._sink_fd, self.counter.count
        pending: list[bytes] = []
        while chunk := os.read(source, CHUNK_SIZE):
            last = chunk.rfind(b"\n")
            if last < 0:
                pending.append(chunk)
                continue
            start = 0
            if pending:
                start = chunk.find(b"\n") + 1
                pending.append(chunk[:start])
                line = b"".join(pending)
                pending = []
                write_all(sink, line)
                count(line)
                self.bytes += len(line)
            end = last + 1
            if end > start:
                write_all(sink, memoryview(chunk)[start:end])
                count(chunk, start, end)
                self.bytes += end - start
            if end < len(chunk):
                pending.append(chunk[end:])
        if pending:
            self._finish_partial(b"".join(pending))

    def _finish_partial(self, tail: bytes) -> None:
        """Pass a complete JSON message that only lacks its newline; refuse a cut one."""
        try:
            message = orjson.loads(tail)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            raise TruncatedOutputError(self._source, len(tail), tail[:120])
        logger.warning("tap output lacks a final newline", process=self._source)
        line = tail + b"\n"
        write_all(self._sink_fd, line)
        self.counter.count(line)
        self.bytes += len(line)
