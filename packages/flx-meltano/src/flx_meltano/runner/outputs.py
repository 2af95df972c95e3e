"""One thread reads every small output of a run: each process's stderr and the target's
stdout. They carry little data, so a selector serves them all; the thread count stays the
same whatever the number of mappers (threads are costly to start while the relay holds
the interpreter lock)."""

from __future__ import annotations

import os
import selectors
from typing import Protocol

from flx_meltano.runner.lines import READ_SIZE, LineSplitter
from flx_meltano.runner.pipes import close_quietly


class LineHandler(Protocol):
    def on_lines(self, lines: list[bytes]) -> None:
        """Complete lines, without newline or trailing carriage return."""

    def on_end(self) -> None:
        """The stream is closed; no more lines."""


class OutputReader:
    def __init__(self) -> None:
        self._sources: dict[int, tuple[LineSplitter, LineHandler]] = {}

    def add(self, fd: int, handler: LineHandler) -> None:
        self._sources[fd] = (LineSplitter(), handler)

    def run(self) -> None:
        """Read until every source is closed; always closes the descriptors."""
        try:
            with selectors.DefaultSelector() as selector:
                for fd in self._sources:
                    selector.register(fd, selectors.EVENT_READ)
                while self._sources:
                    for key, _ in selector.select():
                        if not self._read(key.fd):
                            selector.unregister(key.fd)
        finally:
            for fd, (_, handler) in self._sources.items():
                close_quietly(fd)
                handler.on_end()
            self._sources.clear()

    def _read(self, fd: int) -> bool:
        splitter, handler = self._sources[fd]
        chunk = os.read(fd, READ_SIZE)
        if chunk:
            lines = splitter.feed(chunk)
            if lines:
                handler.on_lines([line.removesuffix(b"\r") for line in lines])
            return True
        rest = splitter.finish()
        if rest is not None:
            handler.on_lines([rest.removesuffix(b"\r")])
        del self._sources[fd]
        close_quietly(fd)
        handler.on_end()
        return False
