"""Following a run that goes on another machine, through what its heartbeats record.

A worker's run writes its progress (records per stream, bytes, state commits) on the
execution at every heartbeat; the process that asked for the run reads the execution back
in a short transaction every ``POLL_SECONDS`` and tells its observer what changed, so
`flx run P` shows the same live view whichever machine runs P.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from flx_core.domain import ExecutionStatus, NotFound, PipelineExecution
from flx_core.domain.pydantic_base import utc_now

if TYPE_CHECKING:
    from flx_core.application import Application

#: How often a follower reads the execution; the live view moves at the heartbeat's pace
#: (FLX_HEARTBEAT_SECONDS) anyway, this only bounds how late it notices.
POLL_SECONDS = 0.5


class Follower:
    """Reads one execution until it ends and feeds an observer (any subset of the
    ``RunObserver`` callbacks)."""

    def __init__(self, app: Application, execution_id: str, observer: Any = None) -> None:
        self.app = app
        self.execution_id = execution_id
        self.observer = observer
        self._started = False
        self._warned: set[str] = set()
        self._commits = 0
        self._last_progress: tuple[Any, ...] | None = None
        self._waiting_told = ""

    async def follow(self) -> PipelineExecution:
        while True:
            execution = await self._read()
            self._tell(execution)
            if execution.status.is_terminal:
                self._call("finished", execution, None)
                return execution
            await asyncio.sleep(POLL_SECONDS)

    async def _read(self) -> PipelineExecution:
        async with self.app.uow_factory() as uow:
            execution = await uow.executions.get(self.execution_id)
        if execution is None:
            raise NotFound(f"execution {self.execution_id} not found")
        return execution

    def _tell(self, execution: PipelineExecution) -> None:
        status = execution.status
        if status is ExecutionStatus.QUEUED and execution.pid:
            # A worker holds it and waits for its turn (the pipeline's lock, FLX_MAX_RUNNING
            # or a retry's delay); the reason, when the worker recorded it.
            reason = str(
                execution.details.get("waiting") or "a worker holds it, waiting for its turn"
            )
            if reason != self._waiting_told:
                self._waiting_told = reason
                self._call("waiting", reason)
        ran = status is ExecutionStatus.RUNNING or (status.is_terminal and execution.exit_codes)
        if not self._started and ran:
            # Seen running, or ended between two reads after its connectors ran.
            self._started = True
            self._call("started", execution)
        for message in execution.warnings:
            if message not in self._warned:
                self._warned.add(message)
                self._call("warning", message)
        while self._commits < execution.state_commits:
            self._commits += 1
            self._call("state_committed", self._commits)
        if not self._started:
            return
        snapshot = (tuple(sorted(execution.stream_counts.items())), execution.bytes)
        if snapshot != self._last_progress or status is ExecutionStatus.RUNNING:
            self._last_progress = snapshot
            end = execution.finished_at or utc_now()
            elapsed = (end - execution.started_at).total_seconds() if execution.started_at else 0
            self._call(
                "progress",
                dict(execution.stream_counts),
                execution.bytes,
                execution.state_commits,
                max(elapsed, 0.0),
            )

    def _call(self, name: str, *args: Any) -> None:
        """Call an observer's callback if it has it; a failing observer is dropped, as it
        would be for a run in this process: showing a run must never break following it."""
        callback = getattr(self.observer, name, None)
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            import structlog

            structlog.get_logger(__name__).exception("run_observer_failed", callback=name)
            self.observer = None
