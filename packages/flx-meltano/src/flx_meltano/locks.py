"""One active run per pipeline: a lock row per pipeline, taken in the run's transaction."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flx_core.domain import ConcurrencyConflict, ExecutionStatus, PipelineExecution
from flx_core.infrastructure.processes import pid_alive
from flx_meltano.tables import run_locks

#: The PostgreSQL advisory lock that serializes execution starts (any fixed 64-bit number).
START_LOCK_KEY = 0x464C585F52554E53  # "FLX_RUNS"


class AlreadyRunning(ConcurrencyConflict):
    code = "already_running"


class RunLockRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def holder(self, pipeline_id: str) -> str | None:
        row = (
            await self.session.execute(
                select(run_locks.c.execution_id).where(run_locks.c.pipeline_id == pipeline_id)
            )
        ).first()
        return row[0] if row else None

    async def claim(
        self, pipeline_id: str, execution_id: str, now: datetime, previous: str | None
    ) -> None:
        """Take the lock; ``previous`` is the dead holder being replaced, if any."""
        if previous is None:
            try:
                async with self.session.begin_nested():
                    await self.session.execute(
                        insert(run_locks).values(
                            pipeline_id=pipeline_id, execution_id=execution_id, acquired_at=now
                        )
                    )
            except IntegrityError:
                raise AlreadyRunning("the pipeline was started by someone else just now") from None
            return
        result = await self.session.execute(
            update(run_locks)
            .where(run_locks.c.pipeline_id == pipeline_id, run_locks.c.execution_id == previous)
            .values(execution_id=execution_id, acquired_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise AlreadyRunning("the pipeline was started by someone else just now")

    async def serialize_starts(self) -> None:
        """Make the starts of executions take turns until this transaction ends, so that
        counting the running ones and starting one is atomic. SQLite's write transactions
        take turns already; PostgreSQL takes a transaction-scoped advisory lock."""
        if self.session.bind.dialect.name == "postgresql":
            await self.session.execute(select(func.pg_advisory_xact_lock(START_LOCK_KEY)))

    async def release(self, pipeline_id: str, execution_id: str) -> None:
        await self.session.execute(
            delete(run_locks).where(
                run_locks.c.pipeline_id == pipeline_id, run_locks.c.execution_id == execution_id
            )
        )


def death_reason(
    execution: PipelineExecution, now: datetime, heartbeat_timeout: float, queue_timeout: float
) -> str | None:
    """Why an active execution is dead (so its lock and its slot may be taken over), or None
    while it lives.

    A running execution, or a queued one a process holds (waiting for its turn), is dead when
    that process is gone (seen directly on this host) or its heartbeat is older than
    ``heartbeat_timeout``. A queued execution no process holds yet (in a broker's queue) is
    dead when no worker took it within ``queue_timeout``.
    """
    held = execution.status is ExecutionStatus.RUNNING or execution.pid is not None
    prefix = "worker lost" if execution.status is ExecutionStatus.RUNNING else "never started"
    if not held:
        if now - execution.created_at > timedelta(seconds=queue_timeout):
            return f"{prefix}: no worker took it within {queue_timeout:g}s (FLX_QUEUE_TIMEOUT)"
        return None
    here = socket.gethostname()
    local = execution.host == here and execution.pid and execution.pid != os.getpid()
    if local and execution.pid and not pid_alive(execution.pid):
        return f"{prefix}: the process running it (pid {execution.pid} on {here}) is gone"
    last = execution.heartbeat_at or execution.started_at or execution.created_at
    if now - last > timedelta(seconds=heartbeat_timeout):
        return (
            f"{prefix}: no heartbeat since {last.isoformat(timespec='seconds')} "
            f"(FLX_HEARTBEAT_TIMEOUT={heartbeat_timeout:g}s)"
        )
    return None
