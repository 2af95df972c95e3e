"""The local executor: runs executions as tasks of this process (the embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from flx_core.config import FlxSettings
from flx_core.domain import NotFound, PipelineExecution
from flx_core.domain.ports import LogStorePort, RunRequest, StateStorePort
from flx_meltano.engine.observer import RunObservers
from flx_meltano.engine.pipeline_run import PipelineRun

if TYPE_CHECKING:
    from flx_core.application import Application

log = structlog.get_logger(__name__)

#: How many ended runs a local executor remembers for a late ``wait``.
KEEP_ENDED = 100


@dataclass
class _Slot:
    run: PipelineRun
    task: asyncio.Task[PipelineExecution] | None = None
    observers: RunObservers = field(default_factory=RunObservers)


class LocalExecutor:
    """``ExecutorPort`` in this process: each submitted execution runs as an asyncio task.

    Built by the engine's module factory; it learns the application it records runs through
    when that application starts (``attach``).
    """

    def __init__(
        self, settings: FlxSettings, store: StateStorePort, logs: LogStorePort | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.logs = logs
        #: At most FLX_MAX_CONCURRENT_RUNS runs of this process at once; others stay queued.
        self._pool = asyncio.Semaphore(settings.max_concurrent_runs)
        self._app: Application | None = None
        self._slots: dict[str, _Slot] = {}
        #: Runs that ended, kept for a late ``wait`` (a fast run may end before its
        #: requester asks); the oldest are forgotten first.
        self._ended: dict[str, asyncio.Task[PipelineExecution]] = {}

    def attach(self, app: Application) -> None:
        self._app = app

    def submit(self, request: RunRequest) -> None:
        if self._app is None:
            raise RuntimeError("the local executor is not attached to a started application")
        run = PipelineRun(
            request, self._app, self.settings, self.store, self.logs, submit=self.submit
        )
        slot = _Slot(run)
        slot.run.observer = slot.observers
        slot.task = asyncio.get_running_loop().create_task(
            self._run(slot.run), name=f"flx-execution-{request.execution_id}"
        )
        self._slots[request.execution_id] = slot
        slot.task.add_done_callback(lambda task: self._end(request.execution_id, task))

    async def _run(self, run: PipelineRun) -> PipelineExecution:
        """The run once a place in the pool is free; a retry first sits out its backoff
        (its queued execution is held meanwhile, so it is not taken for lost)."""
        not_before = run.request.not_before
        if not_before is not None:
            delay = (not_before - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await run.pause(delay)
        await self._take_place(run)
        try:
            return await run.run()
        finally:
            self._pool.release()

    async def _take_place(self, run: PipelineRun) -> None:
        """Wait for a free place in the pool; meanwhile the queued execution is held (its
        heartbeat says a live process has it), so that if this process dies the reaper
        frees its pipeline instead of leaving it queued for FLX_QUEUE_TIMEOUT."""
        if not self._pool.locked():
            await self._pool.acquire()
            return
        reason = (
            f"all {self.settings.max_concurrent_runs} places of this process are taken "
            "(FLX_MAX_CONCURRENT_RUNS)"
        )
        stop = asyncio.Event()

        async def hold() -> None:
            while not stop.is_set():  # leaves between two transactions, never inside one
                await run.lifecycle.hold(run.execution_id, reason)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.heartbeat_seconds)

        holder = asyncio.create_task(hold())
        try:
            await self._pool.acquire()
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await holder

    def _end(self, execution_id: str, task: asyncio.Task[PipelineExecution]) -> None:
        self._slots.pop(execution_id, None)
        self._ended[execution_id] = task
        while len(self._ended) > KEEP_ENDED:
            del self._ended[next(iter(self._ended))]

    async def wait(self, execution_id: str, observer: Any = None) -> PipelineExecution:
        slot = self._slots.get(execution_id)
        if slot is None or slot.task is None:
            ended = self._ended.get(execution_id)
            if ended is None:
                raise NotFound(f"execution {execution_id} is not running in this process")
            return await ended
        if observer is not None:
            slot.observers.add(observer)
        try:
            return await asyncio.shield(slot.task)
        except asyncio.CancelledError:
            # The waiter was cancelled (Ctrl-C of the command): stop the run, let it record
            # its end, then pass the cancellation on.
            slot.run.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await slot.task
            raise

    def cancel(self, execution_id: str, reason: str | None = None) -> bool:
        """Stop a run of this process. With ``reason`` the run ends failed with that
        reason (its caller died), else cancelled."""
        slot = self._slots.get(execution_id)
        if slot is None:
            return False
        slot.run.cancel(reason)
        return True

    def cancel_all(self, reason: str | None = None) -> None:
        for slot in list(self._slots.values()):
            slot.run.cancel(reason)

    @property
    def active(self) -> list[str]:
        return list(self._slots)

    async def aclose(self) -> None:
        """Stop what still runs (the process is shutting down) and wait for the records."""
        tasks = [s.task for s in self._slots.values() if s.task is not None]
        if not tasks:
            return
        self.cancel_all()
        await asyncio.gather(*tasks, return_exceptions=True)
