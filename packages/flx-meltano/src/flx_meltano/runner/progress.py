"""Periodic snapshots of a run's counters for the caller (heartbeats, live views)."""

from __future__ import annotations

import asyncio
import inspect
import time

import structlog

from flx_meltano.runner.relay import Relay
from flx_meltano.runner.spec import Progress, RunSpec
from flx_meltano.runner.target_states import TargetStateReader

logger = structlog.get_logger(__name__)


class ProgressReporter:
    """Calls ``spec.on_progress`` every ``spec.progress_interval`` seconds and once at the
    end. A failing callback is logged, never fatal: progress is informative."""

    def __init__(
        self, spec: RunSpec, relay: Relay, states: TargetStateReader, started: float
    ) -> None:
        self._spec = spec
        self._relay = relay
        self._states = states
        self._started = started
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._spec.on_progress is not None:
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await self.report()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._spec.progress_interval)
            await self.report()

    async def report(self) -> None:
        callback = self._spec.on_progress
        if callback is None:
            return
        snapshot = Progress(
            elapsed=time.monotonic() - self._started,
            records=self._relay.counter.per_stream(),
            bytes=self._relay.bytes,
            states=self._states.emitted,
        )
        try:
            outcome = callback(snapshot)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            logger.exception("progress callback failed")
