"""Recording a run that never reached the broker: it fails at once, with the reason.

Left queued, it would hold its pipeline's lock and look as if a worker would take it, until
FLX_QUEUE_TIMEOUT (a day by default) had the reaper fail it. It is not retried: a retry
would need the same broker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from flx_core.domain import ConcurrencyConflict, ExecutionStatus
from flx_core.domain.ports import RunRequest
from flx_meltano.engine.lifecycle import commit_and_publish
from flx_meltano.locks import RunLockRepository

if TYPE_CHECKING:
    from flx_core.application import Application

log = structlog.get_logger(__name__)


async def fail_unsent(app: Application, request: RunRequest, reason: str) -> None:
    for _attempt in range(3):
        async with app.uow_factory() as uow:
            uow.actor = request.principal.subject
            execution = await uow.executions.get(request.execution_id)
            if execution is None or execution.status is not ExecutionStatus.QUEUED:
                return  # cancelled meanwhile, or a worker has it after all
            uow.track(execution)
            execution.fail(reason, now=app.clock.now())
            try:
                await uow.executions.save(execution)
            except ConcurrencyConflict:
                continue
            await uow.get(RunLockRepository).release(request.pipeline_id, request.execution_id)
            await commit_and_publish(uow, app, request.principal)
            return
    log.error("unsent_run_not_recorded", execution_id=request.execution_id)
