"""Copies a run's log file into the log store while the run writes it.

The run always writes its log to a local file (the runner's log sink, and discovery before
it). With logs in the database, a shipper next to the run appends the file's new bytes to
the store every half second and the rest when the run ends, however it ends: a follower on
another machine sees the run as it goes, and the whole log once the execution is over.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import TracebackType

import structlog

from flx_core.domain.ports import LogStorePort
from flx_meltano.logs.files import FileLogStore, read_bytes

log = structlog.get_logger(__name__)

INTERVAL = 0.5
#: The most one append carries (a burst of output is shipped in several).
APPEND_BYTES = 8 * 1024 * 1024


class LogShipper:
    """``async with LogShipper(store, execution_id, path):`` around a run. Does nothing
    without a store or a path, or for a store that reads the run's own file."""

    def __init__(
        self,
        store: LogStorePort | None,
        execution_id: str,
        path: Path | None,
        *,
        interval: float = INTERVAL,
    ) -> None:
        self.store = store
        self.execution_id = execution_id
        self.path = path
        self.interval = interval
        #: How much of the file the store holds.
        self.shipped = 0
        self._failing = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return (
            self.store is not None
            and self.path is not None
            and not isinstance(self.store, FileLogStore)
        )

    async def __aenter__(self) -> LogShipper:
        if self.active:
            self._task = asyncio.create_task(
                self._every_interval(), name=f"flx-log-shipper-{self.execution_id}"
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is None:
            return
        # The loop stops between two appends: cancelling it inside a transaction could
        # leave its connection holding SQLite's write lock.
        self._stop.set()
        with contextlib.suppress(Exception):
            await self._task
        await self.ship()
        if self._failing:
            log.error(
                "log_not_shipped",
                execution_id=self.execution_id,
                shipped=self.shipped,
                path=str(self.path),
            )

    async def _every_interval(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            if self._stop.is_set():
                return
            await self.ship()

    async def ship(self) -> None:
        """Append what the file holds beyond what was shipped. A failure is logged and
        left to the next call, which sends again what was not acknowledged (the store
        drops bytes it already holds)."""
        if self.store is None or self.path is None:
            return
        try:
            while True:
                data = await asyncio.to_thread(read_bytes, self.path, self.shipped, APPEND_BYTES)
                if not data:
                    break
                await self.store.append(self.execution_id, self.shipped, data)
                self.shipped += len(data)
        except Exception:
            if not self._failing:  # once per outage, not every half second
                log.exception("log_shipping_failed", execution_id=self.execution_id)
            self._failing = True
            return
        if self._failing:
            log.info("log_shipping_resumed", execution_id=self.execution_id)
            self._failing = False
