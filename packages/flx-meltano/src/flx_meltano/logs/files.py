"""Execution logs as the runs write them: one file per execution under ``$FLX_HOME/logs``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from flx_core.domain.ports import LogChunk, LogStorePort
from flx_meltano.engine.paths import find_log_path

#: Log files found by id, kept so a follower polling a log does not search for it each time.
_REMEMBERED = 256


class FileLogStore(LogStorePort):
    """Reads the log files under ``home``: the embedded default, where the process that ran
    an execution and the one reading its log share FLX_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._found: dict[str, Path] = {}

    def path_of(self, execution_id: str) -> Path | None:
        path = self._found.get(execution_id)
        if path is not None and path.is_file():
            return path
        path = find_log_path(self.home, execution_id)
        if path is not None:
            if len(self._found) >= _REMEMBERED:
                del self._found[next(iter(self._found))]
            self._found[execution_id] = path
        return path

    async def append(self, execution_id: str, offset: int, data: bytes) -> None:
        """Nothing to do: the run's log sink writes the very file this store reads."""

    async def read(self, execution_id: str, offset: int = 0, limit: int | None = None) -> LogChunk:
        if offset < 0:
            raise ValueError("a log offset cannot be negative")
        path = self.path_of(execution_id)
        data = b"" if path is None else await asyncio.to_thread(read_bytes, path, offset, limit)
        return LogChunk(data=data, offset=offset, next_offset=offset + len(data))

    async def size(self, execution_id: str) -> int | None:
        path = self.path_of(execution_id)
        if path is None:
            return None
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return None


def read_bytes(path: Path, offset: int, limit: int | None) -> bytes:
    """Up to ``limit`` bytes of ``path`` from ``offset`` (none when the file is gone)."""
    try:
        with path.open("rb") as fh:
            if offset >= os.fstat(fh.fileno()).st_size:
                return b""  # past the end (seeking far past it fails on some systems)
            fh.seek(offset)
            return fh.read(-1 if limit is None else limit)
    except FileNotFoundError:
        return b""
