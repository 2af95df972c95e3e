"""The execution record through a run: requested (queued), started when its turn comes,
heart-beating, finished; dead ones reaped and failed ones retried.

Every step is one short transaction. The database decides who runs: the pipeline's lock row
(one active run per pipeline), the count of running executions under a lock that serializes
starts (FLX_MAX_RUNNING), and the optimistic version of the execution row (a task that a
broker delivers twice starts it once).
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from flx_core.domain.ports import ExecutionFilter, RunRequest, UnitOfWork
from flx_meltano.engine.paths import log_path
from flx_meltano.locks import AlreadyRunning, RunLockRepository, death_reason

log = structlog.get_logger(__name__)

ACTIVE = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


async def commit_and_publish(uow: UnitOfWork, app: Application, principal: Principal) -> None:
    await uow.commit()
    for event in uow.collect_new_events():
        await app.publish(event, principal=principal)


def dead(execution: PipelineExecution, now: datetime, settings: FlxSettings) -> str | None:
    return death_reason(execution, now, settings.heartbeat_timeout, settings.queue_timeout)


async def request_run(
    uow: UnitOfWork,
    pipeline: Pipeline,
    *,
    settings: FlxSettings,
    now: datetime,
    trigger: str,
    requested_by: str,
    full_refresh: bool = False,
    log_path_for: Callable[[str], str] | None = None,
    scheduled_for: datetime | None = None,
    attempt: int = 1,
    retry_of: str | None = None,
    not_before: datetime | None = None,
    idempotency_key: str | None = None,
    execution_id: str | None = None,
) -> PipelineExecution:
    """A new queued execution of ``pipeline`` (in ``uow``).

    With the pipeline's ``on_conflict`` at ``reject`` it takes the pipeline's lock now and
    raises AlreadyRunning (naming the active execution) when a live run holds it; with
    ``queue`` it takes the lock if free and otherwise waits for its turn when it starts.
    Active executions whose process died on the way are marked failed first.
    """
    locks = uow.get(RunLockRepository)
    holder = await locks.holder(pipeline.id)
    live: list[PipelineExecution] = []
    for active in await uow.executions.active_for(pipeline.id):
        reason = dead(active, now, settings)
        if reason is None:
            live.append(active)
            continue
        mark_dead(uow, active, reason, now)
        await uow.executions.save(active)
        if holder == active.id:
            await locks.release(pipeline.id, active.id)
            holder = None
    if live and pipeline.on_conflict == "reject":
        raise already_running(pipeline, live[0])
    fields: dict[str, Any] = {"id": execution_id} if execution_id else {}
    execution = PipelineExecution(
        **fields,
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        trigger=trigger,
        requested_by=requested_by,
        full_refresh=full_refresh,
        created_at=now,
        attempt=attempt,
        retry_of=retry_of,
        scheduled_for=scheduled_for,
        not_before=not_before,
        idempotency_key=idempotency_key,
        queue=pipeline.queue,
    )
    if log_path_for is not None:
        execution.log_path = log_path_for(execution.id)
    execution.enqueue()
    await uow.executions.add(execution)
    if not live:
        try:
            await locks.claim(pipeline.id, execution.id, now, holder)
        except AlreadyRunning:
            if pipeline.on_conflict == "reject":
                raise
            # queue: someone took it meanwhile; this one waits for its turn when it starts
    uow.track(execution)
    return execution


def already_running(pipeline: Pipeline, active: PipelineExecution) -> AlreadyRunning:
    started = active.started_at or active.created_at
    where = f" (pid {active.pid} on {active.host})" if active.pid else ""
    return AlreadyRunning(
        f"pipeline {pipeline.name!r} is already running: execution {active.id[:12]} "
        f"({active.status.value}) since {started.isoformat(timespec='seconds')}{where}; "
        f"wait for it or cancel it with `flx execution cancel {active.id[:12]}`",
        execution=active.id,
    )


def mark_dead(uow: UnitOfWork, execution: PipelineExecution, reason: str, now: datetime) -> None:
    uow.track(execution)
    execution.fail(reason, now=now)
    log.warning("reaped_dead_execution", execution_id=execution.id, reason=reason)


async def queue_retry(
    uow: UnitOfWork,
    failed: PipelineExecution,
    settings: FlxSettings,
    now: datetime,
    request: RunRequest | None = None,
) -> RunRequest | None:
    """After ``failed`` failed (in ``uow``; the caller saves it): the next attempt, queued
    with its backoff and handed the pipeline's lock, if the pipeline's retry policy allows
    one; its RunRequest, to submit after the commit. Cancelled runs are never retried."""
    if failed.status is not ExecutionStatus.FAILED:
        return None
    pipeline = await uow.pipelines.get(failed.pipeline_id)
    if pipeline is None or failed.attempt > pipeline.retries:
        return None
    attempt = failed.attempt + 1
    delay = pipeline.retry_backoff(attempt, random.uniform(0.5, 1.0))  # noqa: S311  (jitter)
    not_before = now + timedelta(seconds=delay)
    locks = uow.get(RunLockRepository)
    holder = await locks.holder(pipeline.id)
    retry = PipelineExecution(
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        trigger="retry",
        requested_by=failed.requested_by,
        full_refresh=failed.full_refresh,
        created_at=now,
        attempt=attempt,
        retry_of=failed.retry_of or failed.id,
        not_before=not_before,
        queue=pipeline.queue,
    )
    if failed.log_path:
        retry.log_path = os.path.join(os.path.dirname(failed.log_path), f"{retry.id}.log")
    retry.enqueue()
    await uow.executions.add(retry)
    if holder in (None, failed.id):
        await locks.claim(pipeline.id, retry.id, now, holder)
    uow.track(retry)
    failed.details = {**failed.details, "next_attempt": retry.id}
    log.info(
        "retry_queued",
        execution_id=retry.id,
        failed=failed.id,
        attempt=attempt,
        delay_seconds=round(delay, 1),
    )
    base = request or RunRequest(
        execution_id=failed.id, pipeline_id=pipeline.id, principal=Principal.system()
    )
    return base.model_copy(
        update={"execution_id": retry.id, "queue": pipeline.queue, "not_before": not_before}
    )


async def reap_dead(
    uow: UnitOfWork, *, now: datetime, settings: FlxSettings
) -> tuple[list[str], list[RunRequest]]:
    """Mark failed, with the reason, the active executions whose process is gone or whose
    heartbeat stopped (and the queued ones no worker took in time), release their locks
    and queue their retries; their ids, and the retries to submit after the commit."""
    active = await uow.executions.list(ExecutionFilter(statuses=frozenset(ACTIVE)), limit=1000)
    locks = uow.get(RunLockRepository)
    reaped, retries = [], []
    for execution in active.items:
        reason = dead(execution, now, settings)
        if reason is None:
            continue
        mark_dead(uow, execution, reason, now)
        retry = await queue_retry(uow, execution, settings, now)
        await uow.executions.save(execution)
        if retry is None:
            await locks.release(execution.pipeline_id, execution.id)
        else:
            retries.append(retry)
        reaped.append(execution.id)
    return reaped, retries


@dataclass(frozen=True)
class Turn:
    """The outcome of an attempt to start a queued execution."""

    #: started: it runs now; gone: it is no longer queued (cancelled, or another worker has
    #: it), leave it alone; wait: not its turn yet (``reason`` says why).
    outcome: str
    execution: PipelineExecution
    reason: str = ""


class ExecutionLifecycle:
    """Database side of a run. Each step is its own short transaction."""

    def __init__(self, app: Application, principal: Principal, settings: FlxSettings) -> None:
        self.app = app
        self.principal = principal
        self.settings = settings
        self.host = socket.gethostname()

    def _uow(self) -> UnitOfWork:
        uow = self.app.uow_factory()
        uow.actor = self.principal.subject
        return uow

    @property
    def now(self) -> Callable[[], datetime]:
        return self.app.clock.now

    async def take_turn(self, execution_id: str) -> Turn:
        """Start the queued execution if it is its turn: the pipeline's lock is free or
        its own, no older queued run of the pipeline waits, its backoff has passed, and
        fewer than FLX_MAX_RUNNING executions run. Otherwise nothing changes."""
        try:
            return await self._take_turn(execution_id)
        except ConcurrencyConflict as exc:  # another worker started it, or took the lock
            async with self._uow() as uow:
                current = await uow.executions.get(execution_id)
            if current is None:
                raise NotFound(f"execution {execution_id} vanished") from None
            if current.status is ExecutionStatus.QUEUED:
                return Turn("wait", current, str(exc))
            return Turn("gone", current)

    async def _take_turn(self, execution_id: str) -> Turn:
        now = self.now()
        async with self._uow() as uow:
            execution = await uow.executions.get(execution_id)
            if execution is None:
                raise NotFound(f"execution {execution_id} vanished")
            if execution.status is not ExecutionStatus.QUEUED:
                return Turn("gone", execution)
            if execution.not_before is not None and execution.not_before > now:
                when = execution.not_before.isoformat(timespec="seconds")
                return Turn("wait", execution, f"attempt {execution.attempt} starts at {when}")
            locks = uow.get(RunLockRepository)
            waiting = await self._blocker(uow, execution, now)
            if waiting:
                return Turn("wait", execution, waiting)
            holder = await locks.holder(execution.pipeline_id)
            if holder != execution.id:
                await locks.claim(execution.pipeline_id, execution.id, now, holder)
            limit = self.settings.max_running
            if limit is not None:
                await locks.serialize_starts()
                running = await self._running(uow, now)
                if running >= limit:
                    return Turn("wait", execution, f"{running} of FLX_MAX_RUNNING={limit} run")
            uow.track(execution)
            execution.details = {k: v for k, v in execution.details.items() if k != "waiting"}
            execution.start(host=self.host, pid=os.getpid(), now=now)
            # The log is written where the run runs (a worker's FLX_HOME, not the
            # requester's); the log store makes it readable elsewhere.
            execution.log_path = str(
                log_path(self.settings.home_path, execution.pipeline_name, execution.id)
            )
            await uow.executions.save(execution)
            await commit_and_publish(uow, self.app, self.principal)
        return Turn("started", execution)

    async def _blocker(self, uow: UnitOfWork, execution: PipelineExecution, now: datetime) -> str:
        """What holds the execution back in its pipeline: a live run holding the lock, or an
        older queued run (runs of a pipeline start in order); "" when nothing does. Dead
        ones on the way are marked failed."""
        locks = uow.get(RunLockRepository)
        holder = await locks.holder(execution.pipeline_id)
        for other in await uow.executions.active_for(execution.pipeline_id):
            if other.id == execution.id:
                continue
            reason = dead(other, now, self.settings)
            if reason is not None:
                mark_dead(uow, other, reason, now)
                await uow.executions.save(other)
                if holder == other.id:
                    await locks.release(other.pipeline_id, other.id)
                continue
            if other.id == holder:
                return f"execution {other.id[:12]} of the pipeline is {other.status.value}"
            # Runs start in the order they were requested, except the lock's holder (a
            # retry the failed attempt handed the lock to), which goes first.
            older = (
                other.status is ExecutionStatus.QUEUED and other.created_at < execution.created_at
            )
            if older and holder != execution.id:
                return f"execution {other.id[:12]} of the pipeline was queued before it"
        return ""

    async def _running(self, uow: UnitOfWork, now: datetime) -> int:
        """Running executions everywhere; dead ones are marked failed, freeing their slot."""
        page = await uow.executions.list(
            ExecutionFilter(statuses=frozenset({ExecutionStatus.RUNNING})), limit=10_000
        )
        count = 0
        for other in page.items:
            reason = dead(other, now, self.settings)
            if reason is None:
                count += 1
            else:
                mark_dead(uow, other, reason, now)
                await uow.executions.save(other)
                await uow.get(RunLockRepository).release(other.pipeline_id, other.id)
        return count

    async def hold(self, execution_id: str, waiting: str = "") -> bool:
        """Mark the queued execution as held by this process while it waits for its turn
        (so it is not taken for lost), with why it waits (a follower elsewhere shows it);
        True when it is no longer queued."""
        async with self._uow() as uow:
            current = await uow.executions.get(execution_id)
            if current is None or current.status is not ExecutionStatus.QUEUED:
                return True
            current.host, current.pid = self.host, os.getpid()
            current.beat(self.now())
            if waiting:
                current.details = {**current.details, "waiting": waiting}
            try:
                await uow.executions.save(current)
                await uow.commit()
            except ConcurrencyConflict:
                pass  # cancelled or started meanwhile: the next look tells
        return False

    async def heartbeat(
        self, execution_id: str, counts: dict[str, int], bytes_: int, states: int
    ) -> bool:
        """Record liveness and progress; True when the run must stop: someone asked to
        cancel it, or a reaper took it for lost (it ended meanwhile, and a retry may take
        its place)."""
        for _attempt in range(3):
            async with self._uow() as uow:
                current = await uow.executions.get(execution_id)
                if current is None:
                    raise NotFound(f"execution {execution_id} vanished")
                if current.cancel_requested or current.status.is_terminal:
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
            return bool(current and (current.cancel_requested or current.status.is_terminal))

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
        request: RunRequest | None = None,
    ) -> tuple[PipelineExecution, RunRequest | None]:
        """Record the end; the finished execution and, when it failed and its pipeline
        retries, the next attempt's RunRequest (queued in the same transaction)."""
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
                retry = None
                if execution.status.is_terminal:
                    pass  # reaped or cancelled meanwhile by another process: keep its verdict
                elif status == ExecutionStatus.SUCCEEDED.value:
                    execution.succeed(exit_codes=exit_codes, now=self.now())
                elif status == ExecutionStatus.CANCELLED.value:
                    execution.cancel(exit_codes=exit_codes, now=self.now())
                else:
                    execution.fail(error or "failed", exit_codes=exit_codes, now=self.now())
                    retry = await queue_retry(uow, execution, self.settings, self.now(), request)
                try:
                    await uow.executions.save(execution)
                except ConcurrencyConflict:
                    continue
                if retry is None:
                    await uow.get(RunLockRepository).release(pipeline_id, execution_id)
                await commit_and_publish(uow, self.app, self.principal)
                return execution, retry
        raise ConcurrencyConflict(f"could not record the end of execution {execution_id}")
