"""The execution record through a run: begin (with the lock), heartbeat, finish."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import structlog

from flx_core.application import Application
from flx_core.config import FlxSettings
from flx_core.domain import (
    ConcurrencyConflict,
    ExecutionStatus,
    NotFound,
    Pipeline,
    PipelineExecution,
    Principal,
)
from flx_core.domain.ports import ExecutionFilter, UnitOfWork
from flx_meltano.locks import AlreadyRunning, RunLockRepository, death_reason

log = structlog.get_logger(__name__)


async def commit_and_publish(uow: UnitOfWork, app: Application, principal: Principal) -> None:
    await uow.commit()
    for event in uow.collect_new_events():
        await app.publish(event, principal=principal)


async def claim_execution(
    uow: UnitOfWork,
    pipeline: Pipeline,
    *,
    trigger: str,
    full_refresh: bool,
    log_path_for: Callable[[str], str],
    now: datetime,
    stale_after: float,
) -> PipelineExecution:
    """A queued execution of ``pipeline`` holding its lock (in ``uow``), or AlreadyRunning.

    Executions that still hold the lock but whose process is gone (or whose heartbeat
    stopped) are marked failed on the way, with the reason.
    """
    locks = uow.get(RunLockRepository)
    previous = await locks.holder(pipeline.id)
    for active in await uow.executions.active_for(pipeline.id):
        reason = death_reason(active, now, stale_after)
        if reason is None:
            started = active.started_at or active.created_at
            where = f" (pid {active.pid} on {active.host})" if active.pid else ""
            raise AlreadyRunning(
                f"pipeline {pipeline.name!r} is already running: execution "
                f"{active.id[:12]} started {started.isoformat(timespec='seconds')}"
                f"{where}; wait for it or cancel it with "
                f"`flx execution cancel {active.id[:12]}`",
                execution=active.id,
            )
        _mark_dead(uow, active, reason, now)
        await uow.executions.save(active)
    execution = PipelineExecution(
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        trigger=trigger,
        full_refresh=full_refresh,
        created_at=now,
    )
    execution.log_path = log_path_for(execution.id)
    execution.queue()
    await uow.executions.add(execution)
    await locks.claim(pipeline.id, execution.id, now, previous)
    uow.track(execution)
    return execution


def _mark_dead(uow: UnitOfWork, execution: PipelineExecution, reason: str, now: datetime) -> None:
    uow.track(execution)
    if execution.status is ExecutionStatus.RUNNING:
        execution.fail(f"abandoned: {reason}", now=now)
    else:
        execution.fail(f"never started: {reason}", now=now)
    log.info("reaped_dead_execution", execution=execution.id, reason=reason)


async def reap_dead(uow: UnitOfWork, *, now: datetime, stale_after: float) -> list[str]:
    """Mark failed, with the reason, the active executions whose process is gone (on this
    host) or whose heartbeat stopped, and release their pipelines' locks; their ids."""
    active = await uow.executions.list(ExecutionFilter(statuses=frozenset(ACTIVE)), limit=500)
    locks = uow.get(RunLockRepository)
    reaped = []
    for execution in active.items:
        reason = death_reason(execution, now, stale_after)
        if reason is None:
            continue
        _mark_dead(uow, execution, reason, now)
        await uow.executions.save(execution)
        await locks.release(execution.pipeline_id, execution.id)
        reaped.append(execution.id)
    return reaped


ACTIVE = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


def stale_after(settings: FlxSettings) -> float:
    """How long a run may go without a heartbeat before it counts as dead."""
    return max(30.0, 6 * settings.heartbeat_seconds)


class ExecutionLifecycle:
    """Database side of a run. Each step is its own short transaction."""

    def __init__(self, app: Application, principal: Principal) -> None:
        self.app = app
        self.principal = principal

    def _uow(self) -> UnitOfWork:
        uow = self.app.uow_factory()
        uow.actor = self.principal.subject
        return uow

    @property
    def now(self) -> Callable[[], datetime]:
        return self.app.clock.now

    async def start(self, execution_id: str) -> PipelineExecution:
        """Move the queued execution to running, with this process as its runner."""
        async with self._uow() as uow:
            execution = await uow.executions.get(execution_id)
            if execution is None:
                raise NotFound(f"execution {execution_id} vanished")
            uow.track(execution)
            execution.start(host=socket.gethostname(), pid=os.getpid(), now=self.now())
            await uow.executions.save(execution)
            await commit_and_publish(uow, self.app, self.principal)
        return execution

    async def heartbeat(
        self, execution_id: str, counts: dict[str, int], bytes_: int, states: int
    ) -> bool:
        """Record liveness and progress; True when someone asked to cancel the run."""
        for _attempt in range(3):
            async with self._uow() as uow:
                current = await uow.executions.get(execution_id)
                if current is None:
                    raise NotFound(f"execution {execution_id} vanished")
                if current.cancel_requested:
                    return True
                current.beat(self.now())
                current.record_progress(counts, state_commits=states, byte_count=bytes_)
                try:
                    await uow.executions.save(current)
                    await uow.commit()
                    return False
                except ConcurrencyConflict:
                    continue  # a cancel request saved meanwhile: read it again
        return False

    async def cancel_requested(self, execution_id: str) -> bool:
        async with self._uow() as uow:
            current = await uow.executions.get(execution_id)
            return bool(current and current.cancel_requested)

    async def finish(
        self,
        execution_id: str,
        pipeline_id: str,
        *,
        status: str,
        error: str | None,
        exit_codes: dict[str, int],
        counts: dict[str, int],
        bytes_: int,
        states: int,
        details: dict[str, Any] | None = None,
        warnings: Sequence[str] = (),
    ) -> PipelineExecution:
        for _attempt in range(5):
            async with self._uow() as uow:
                execution = await uow.executions.get(execution_id)
                if execution is None:
                    raise NotFound(f"execution {execution_id} vanished")
                uow.track(execution)
                execution.record_progress(counts, state_commits=states, byte_count=bytes_)
                if details:
                    execution.details = {**execution.details, **details}
                for warning in warnings:
                    execution.warn(warning)
                if execution.status.is_terminal:
                    pass  # reaped meanwhile by another process: keep its verdict
                elif status == ExecutionStatus.SUCCEEDED.value:
                    execution.succeed(exit_codes=exit_codes, now=self.now())
                elif status == ExecutionStatus.CANCELLED.value:
                    execution.cancel(exit_codes=exit_codes, now=self.now())
                else:
                    execution.fail(error or "failed", exit_codes=exit_codes, now=self.now())
                try:
                    await uow.executions.save(execution)
                except ConcurrencyConflict:
                    continue
                await uow.get(RunLockRepository).release(pipeline_id, execution_id)
                await commit_and_publish(uow, self.app, self.principal)
                return execution
        raise ConcurrencyConflict(f"could not record the end of execution {execution_id}")
