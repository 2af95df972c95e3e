"""The distributed executor: runs go to `flx worker` processes through a Celery broker.

    RunPipeline (queued execution, committed)
      -> CeleryExecutor.submit: a task message on the pipeline's queue (or FLX_DEFAULT_QUEUE)
         -> a worker's pool child: CeleryExecutor.execute -> PipelineRun.run
      -> CeleryExecutor.wait: follows the execution in the database to its end

The broker only carries the request. What runs, and how many at once, is decided in the
database (the execution's status, the pipeline's lock, FLX_MAX_RUNNING), so a message the
broker delivers twice, or late, starts nothing twice. Results, logs and state go where a
local run puts them; nothing comes back through the broker.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from flx_core.config import FlxSettings
from flx_core.domain import PipelineExecution
from flx_core.domain.ports import LogStorePort, RunRequest, StateStorePort
from flx_meltano.distributed.broker import BrokerUnavailable, describe_failure
from flx_meltano.distributed.follow import Follower
from flx_meltano.distributed.unsent import fail_unsent
from flx_observability.tracing import current_carrier

if TYPE_CHECKING:
    from celery import Celery

    from flx_core.application import Application
    from flx_meltano.engine.pipeline_run import PipelineRun

log = structlog.get_logger(__name__)

#: The name of the task a worker runs for an execution (the message names it, not code).
TASK_NAME = "flx.run_execution"


class CeleryExecutor:
    """``ExecutorPort`` over Celery: ``submit`` sends, ``wait`` follows the database,
    ``execute`` is what a worker runs for a task.

    Built by the engine's module factory when FLX_EXECUTOR=celery, in every kind of
    process: a `flx` command or a server submits and follows, a worker's pool child
    executes. Celery itself is imported on the first submit, so commands that never submit
    do not pay for it.
    """

    def __init__(self, settings: FlxSettings, store: StateStorePort, logs: LogStorePort) -> None:
        self.settings = settings
        self.store = store
        self.logs = logs
        self._app: Application | None = None
        self._celery: Celery | None = None
        #: This executor's own broker connection for sending (opened on the first send,
        #: reopened by the publish retries after a broker restart).
        self._connection: Any = None
        #: Runs executing in this process (a worker's pool child runs one at a time).
        self._runs: dict[str, PipelineRun] = {}
        #: Failures to reach the broker being recorded on their executions.
        self._recording: set[asyncio.Task[None]] = set()

    def attach(self, app: Application) -> None:
        self._app = app

    def _require_app(self) -> Application:
        if self._app is None:
            raise RuntimeError("the celery executor is not attached to a started application")
        return self._app

    def _celery_app(self) -> Celery:
        if self._celery is None:
            from flx_meltano.distributed.app import make_celery

            self._celery = make_celery(self.settings)
            # Not Celery's connection pools: kombu keeps those per broker URL for the whole
            # process, where closing them would break any other user. No heartbeats: an
            # idle requester (a server between two runs) is not dropped by the broker.
            self._connection = self._celery.connection_for_write(heartbeat=0)
        return self._celery

    def submit(self, request: RunRequest) -> None:
        """Send the run to its queue; with a ``not_before`` in the future the broker holds
        it back until then (a retry's backoff). When the broker cannot be reached (after a
        few quick retries) the execution is failed with the reason, so nobody waits for a
        run that no worker will ever see."""
        queue = request.queue or self.settings.default_queue
        if not request.trace_context:
            # The worker's run continues the trace of the request that queued it.
            request = request.model_copy(update={"trace_context": current_carrier()})
        countdown = None
        if request.not_before is not None:
            wait = (request.not_before - datetime.now(UTC)).total_seconds()
            countdown = wait if wait > 0 else None
        try:
            self._celery_app().send_task(
                TASK_NAME,
                args=(request.model_dump(mode="json"),),
                task_id=request.execution_id,
                queue=queue,
                countdown=countdown,
                connection=self._connection,
            )
        except Exception as exc:
            failure = describe_failure(self.settings.broker_url or "", exc)
            reason = f"could not hand the run to a worker: {failure}"
            log.error("run_not_submitted", execution_id=request.execution_id, error=reason)
            self._record_unsent(request, reason)
            return
        log.info(
            "run_submitted", execution_id=request.execution_id, queue=queue, countdown=countdown
        )

    def _record_unsent(self, request: RunRequest, reason: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise BrokerUnavailable(reason) from None
        task = loop.create_task(fail_unsent(self._require_app(), request, reason))
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def wait(self, execution_id: str, observer: Any = None) -> PipelineExecution:
        """Follow the execution, wherever it runs, to its end; the observer sees its
        progress as the worker's heartbeats record it. Cancelling the wait leaves the run
        alone: it belongs to its worker."""
        return await Follower(self._require_app(), execution_id, observer).follow()

    def cancel(self, execution_id: str, reason: str | None = None) -> bool:
        """Stop a run executing in this process (True; with ``reason`` it ends failed);
        False for a run elsewhere: its worker stops it when the execution's cancel request
        is recorded (CancelExecution), within a second."""
        run = self._runs.get(execution_id)
        if run is None:
            return False
        run.cancel(reason)
        return True

    def cancel_all(self, reason: str | None = None) -> None:
        """Stop every run executing in this process; with ``reason`` they end failed."""
        for run in list(self._runs.values()):
            run.cancel(reason)

    @property
    def active(self) -> list[str]:
        """The executions running in this process."""
        return list(self._runs)

    async def execute(self, request: RunRequest) -> PipelineExecution:
        """Run the execution here, to its end (a worker's task). A request whose execution
        is no longer queued (cancelled meanwhile, or started by another worker after the
        broker delivered it twice) returns that execution untouched."""
        from flx_meltano.engine.pipeline_run import PipelineRun

        run = PipelineRun(
            request, self._require_app(), self.settings, self.store, self.logs, submit=self.submit
        )
        self._runs[request.execution_id] = run
        try:
            return await run.run()
        finally:
            self._runs.pop(request.execution_id, None)

    async def aclose(self) -> None:
        """Stop what runs here, finish recording unsent runs, close the broker connections."""
        self.cancel_all()
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)
        if self._connection is not None:
            self._connection.release()
            self._connection = None
        if self._celery is not None:
            self._celery.close()
            self._celery = None
