"""The local executor: runs executions as tasks of this process (the embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from flx_core.config import FlxSettings
from flx_core.domain import NotFound, PipelineExecution
from flx_core.domain.ports import RunRequest, StateStorePort
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

    def __init__(self, settings: FlxSettings, store: StateStorePort) -> None:
        self.settings = settings
        self.store = store
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
        slot = _Slot(PipelineRun(request, self._app, self.settings, self.store))
        slot.run.observer = slot.observers
        slot.task = asyncio.get_running_loop().create_task(
            slot.run.run(), name=f"flx-execution-{request.execution_id}"
        )
        self._slots[request.execution_id] = slot
        slot.task.add_done_callback(lambda task: self._end(request.execution_id, task))

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
