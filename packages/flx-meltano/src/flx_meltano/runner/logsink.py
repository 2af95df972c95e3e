"""The run's log file: every line prefixed with a UTC timestamp and its source.

    2026-11-23T10:00:00.123Z tap-x | message

Several threads write to it; each batch of lines is written and flushed under a lock, so
lines never interleave and a follower sees them as they come.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import structlog

from flx_core.infrastructure.private_files import open_private_append

logger = structlog.get_logger(__name__)

TAIL_LINES = 20
TAIL_LINE_CHARS = 2000


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LogSink:
    """Appends to ``path``; with no path, lines are dropped (tails are still kept)."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        if path is not None:
            # Owner-only: a run's log can hold what connectors print about their config.
            self._file = open_private_append(path)

    def write_lines(self, source: str, lines: Sequence[bytes]) -> None:
        if self._file is None or not lines:
            return
        prefix = f"{timestamp()} {source} | ".encode()
        data = b"".join(b"%s%s\n" % (prefix, line) for line in lines)
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(data)
                self._file.flush()
            except OSError:
                # A full disk must not break the data path: the run goes on, unlogged.
                logger.exception("cannot write the run log; dropping further lines")
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None

    def event(self, message: str) -> None:
        """A line from the runner itself."""
        self.write_lines("flx", [message.encode()])

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None


class StderrLog:
    """Copies one process's stderr into the log and keeps its last lines for error reports."""

    def __init__(self, source: str, sink: LogSink) -> None:
        self._source = source
        self._sink = sink
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)

    @property
    def tail(self) -> tuple[str, ...]:
        return tuple(self._tail)

    def on_lines(self, lines: list[bytes]) -> None:
        self._sink.write_lines(self._source, lines)
        self._tail.extend(_shorten(line) for line in lines[-TAIL_LINES:])

    def on_end(self) -> None:
        pass


def _shorten(line: bytes) -> str:
    text = line[: TAIL_LINE_CHARS * 4].decode("utf-8", "replace")
    if len(text) > TAIL_LINE_CHARS or len(line) > TAIL_LINE_CHARS * 4:
        return f"{text[:TAIL_LINE_CHARS]}... ({len(line)} bytes)"
    return text
