"""One execution from start to end: load, plan, run the processes, commit state, finish.

    RunPipeline (handler: queued execution + lock, committed)
      -> ExecutorPort.submit (LocalExecutor: a task of this process)
        -> PipelineRun.run: start the execution, plan the RunSpec (files, catalog, state),
           runner.start(spec) -> RunHandle (tap | mappers | target), heartbeat, finish

Each database step is its own short transaction: nothing is held open while tap and
target work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from flx_core.config import FlxSettings
from flx_core.domain import (
    DomainError,
    NotFound,
    Pipeline,
    PipelineExecution,
    Plugin,
    PluginType,
)
from flx_core.domain.ports import LogStorePort, RunRequest, StateStorePort, UnitOfWork
from flx_meltano.engine.incoming_state import incoming_state
from flx_meltano.engine.lifecycle import ExecutionLifecycle, Turn
from flx_meltano.engine.observer import RunObservers
from flx_meltano.engine.plan import planned_run
from flx_meltano.engine.spans import end_run_span, process_spans, run_span
from flx_meltano.engine.state_commits import StateCommitter
from flx_meltano.logs.shipper import LogShipper
from flx_meltano.runner import Progress, RunHandle, RunnerError, RunResult, RunStatus, start

if TYPE_CHECKING:
    from flx_core.application import Application

log = structlog.get_logger(__name__)


async def load_run_plugins(uow: UnitOfWork, pipeline: Pipeline) -> list[Plugin]:
    """The pipeline's plugins in run order (extractor, mappers, loader), or NotFound."""
    plugins = []
    roles = [(PluginType.EXTRACTOR, pipeline.extractor)]
    roles += [(PluginType.MAPPER, m) for m in pipeline.mappers]
    roles.append((PluginType.LOADER, pipeline.loader))
    for kind, name in roles:
        plugin = await uow.plugins.get_by_name(name)
        if plugin is None:
            raise NotFound(
                f"pipeline {pipeline.name!r} uses {kind.value} {name!r}, which is not "
                f"a known plugin: add it with `flx plugin add {kind.value} {name}`",
                plugin=name,
            )
        if plugin.plugin_type is not kind:
            raise NotFound(
                f"plugin {name!r} is a {plugin.plugin_type.value}, but pipeline "
                f"{pipeline.name!r} uses it as its {kind.value}",
                plugin=name,
            )
        plugins.append(plugin)
    return plugins


class PipelineRun:
    def __init__(
        self,
        request: RunRequest,
        app: Application,
        settings: FlxSettings,
        store: StateStorePort,
        logs: LogStorePort | None = None,
        *,
        submit: Callable[[RunRequest], None] | None = None,
    ) -> None:
        self.request = request
        self.app = app
        self.settings = settings
        self.store = store
        self.logs = logs
        #: Hands a retry (the next attempt of a failed run) to the executor.
        self.submit = submit
        self.observer = RunObservers()
        self.lifecycle = ExecutionLifecycle(app, request.principal, settings)
        self.warnings: list[str] = []
        self._handle: RunHandle | None = None
        self._cancelled = asyncio.Event()
        self._failure: str | None = None

    @property
    def execution_id(self) -> str:
        return self.request.execution_id

    def cancel(self, reason: str | None = None) -> None:
        """Stop the run (from a signal handler or another task). With ``reason`` it ends
        failed with that reason instead of cancelled."""
        if reason is not None and self._failure is None:
            self._failure = reason
        self._cancelled.set()
        if self._handle is not None:
            self._handle.cancel()

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.info("run_warning", execution_id=self.execution_id, warning=message)
            self.observer.warning(message)

    async def _load(self) -> tuple[Pipeline, list[Plugin]]:
        async with self.app.uow_factory() as uow:
            pipeline = await uow.pipelines.get(self.request.pipeline_id)
            if pipeline is None:
                raise NotFound(f"the pipeline of execution {self.execution_id} was deleted")
            return pipeline, await load_run_plugins(uow, pipeline)

    async def run(self) -> PipelineExecution:
        """Run the execution to its end (see the module's doc), in a span of its own."""
        with run_span(self.execution_id, self.request.trace_context) as span:
            finished = await self._run()
            end_run_span(span, finished)
            return finished

    async def _run(self) -> PipelineExecution:
        request = self.request
        result: RunResult | None = None
        committer: StateCommitter | None = None
        try:
            pipeline, plugins = await self._load()
            turn = await self._wait_for_turn()
            if turn.outcome == "gone":
                # Cancelled while queued, or started by another worker (a task the broker
                # delivered twice): nothing to run here, and nothing to record.
                log.info(
                    "run_skipped",
                    execution_id=self.execution_id,
                    status=turn.execution.status.value,
                )
                return turn.execution
            execution = turn.execution
            self.observer.started(execution)
            log.info("run_started", pipeline=pipeline.name, execution_id=execution.id)
            stored = None if request.full_refresh else await self.store.get(pipeline.state_id)
            base_state, hidden = incoming_state(pipeline, stored, full_refresh=request.full_refresh)
            if hidden is not None:
                self._warn(hidden)
            committer = StateCommitter(
                self.store,
                pipeline.state_id,
                execution.id,
                base_state,
                self.observer,
                full_refresh=request.full_refresh,
            )
            result = await self._drive(execution, pipeline, plugins, committer, base_state)
            status, error = result.status.value, result.error
            if result.status is RunStatus.SUCCEEDED:
                await committer.commit(partial=False)
            else:
                await committer.commit_unfinished()
        except (DomainError, RunnerError, OSError, ValueError) as exc:
            status = "cancelled" if self._cancelled.is_set() else "failed"
            # A discovery error carries the tap's last stderr lines in its message.
            error = getattr(exc, "message", None) or str(exc)
        except Exception as exc:
            # A bug must not leave the execution "running" and the pipeline locked.
            log.exception("run_crashed", execution_id=self.execution_id)
            status, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        except (asyncio.CancelledError, KeyboardInterrupt):
            status, error = "cancelled", "cancelled"
            await self._finish(status, error, result, committer)
            raise
        return await self._finish(status, error, result, committer)

    async def _finish(
        self,
        status: str,
        error: str | None,
        result: RunResult | None,
        committer: StateCommitter | None,
    ) -> PipelineExecution:
        if status == "cancelled" and self._failure is not None:
            status, error = "failed", self._failure
        exit_codes = {
            k: v for k, v in (result.exit_codes if result else {}).items() if v is not None
        }
        finished, retry = await self.lifecycle.finish(
            self.execution_id,
            self.request.pipeline_id,
            status=status,
            error=error,
            exit_codes=exit_codes,
            counts=dict(result.records) if result else {},
            bytes_=result.bytes if result else 0,
            states=committer.commits if committer else 0,
            details={"timed_out": bool(result and result.timed_out)},
            warnings=self.warnings,
            request=self.request,
        )
        if retry is not None and self.submit is not None:
            self.submit(retry)
        self.observer.finished(finished, result)
        log.info(
            "run_finished",
            pipeline=finished.pipeline_name,
            execution_id=finished.id,
            status=finished.status.value,
        )
        return finished

    async def pause(self, seconds: float) -> None:
        """Sit out a retry's backoff holding the queued execution (so it is not taken for
        lost); returns early when the run is cancelled or is no longer queued."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._cancelled.is_set():
            left = deadline - loop.time()
            if left <= 0 or await self.lifecycle.hold(self.execution_id):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._cancelled.wait(), min(left, self.settings.heartbeat_seconds)
                )

    async def _wait_for_turn(self) -> Turn:
        """Start the queued execution when its turn comes (see ExecutionLifecycle.take_turn),
        holding it meanwhile so it is not taken for lost; a cancel while it waits ends it."""
        told = ""
        since_hold = self.settings.heartbeat_seconds
        while True:
            turn = await self.lifecycle.take_turn(self.execution_id)
            if turn.outcome != "wait":
                return turn
            if self._cancelled.is_set():
                raise asyncio.CancelledError
            changed = turn.reason != told
            if changed:
                told = turn.reason
                log.info("run_waiting", execution_id=self.execution_id, reason=turn.reason)
                self.observer.waiting(turn.reason)
            if changed or since_hold >= self.settings.heartbeat_seconds:
                since_hold = 0.0
                if await self.lifecycle.hold(self.execution_id, turn.reason):
                    continue  # no longer queued: the next turn says what became of it
            pause = min(1.0, self.settings.heartbeat_seconds) * random.uniform(0.5, 1.0)  # noqa: S311
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cancelled.wait(), pause)
            since_hold += pause

    async def _drive(
        self,
        execution: PipelineExecution,
        pipeline: Pipeline,
        plugins: list[Plugin],
        committer: StateCommitter,
        base_state: dict[str, Any],
    ) -> RunResult:
        latest: dict[str, Any] = {"records": {}, "bytes": 0}

        def on_progress(p: Progress) -> None:
            latest.update(records=dict(p.records), bytes=p.bytes)
            self.observer.progress(dict(p.records), p.bytes, committer.commits, p.elapsed)

        log_file = Path(execution.log_path) if execution.log_path else None
        planned = planned_run(
            pipeline,
            plugins,
            self.settings,
            os.environ,
            state=base_state or None,
            refresh_catalog=self.request.refresh_catalog,
            log_path=log_file,
            timeout=self.request.timeout or self.settings.run_timeout_seconds,
            on_state=committer.on_state,
            on_progress=on_progress,
            warn=self._warn,
        )
        # The log store gets the log file's bytes as they come, and the rest at the end.
        async with LogShipper(self.logs, execution.id, log_file), planned as spec:
            if self._cancelled.is_set():
                raise asyncio.CancelledError
            self._handle = start(spec)
            ended = asyncio.Event()
            watcher = asyncio.create_task(self._watch(latest, committer, ended))
            try:
                result = await self._handle.wait()
                process_spans(result)
                return result
            finally:
                # The watcher leaves between two transactions: cancelling it inside one
                # could leave its connection holding SQLite's write lock.
                ended.set()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher

    async def _watch(
        self, latest: dict[str, Any], committer: StateCommitter, ended: asyncio.Event
    ) -> None:
        """Heartbeat with progress; stop the run when a cancel request arrives. Returns
        when ``ended`` is set, never in the middle of a transaction."""
        beat_every = self.settings.heartbeat_seconds
        poll = min(1.0, beat_every)
        since_beat = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), poll)
            if ended.is_set():
                return
            since_beat += poll
            try:
                if since_beat >= beat_every:
                    since_beat = 0.0
                    wanted = await self.lifecycle.heartbeat(
                        self.execution_id, latest["records"], latest["bytes"], committer.commits
                    )
                else:
                    wanted = await self.lifecycle.cancel_requested(self.execution_id)
            except Exception:
                log.exception("heartbeat_failed", execution_id=self.execution_id)
                continue
            if wanted:
                log.info("cancel_requested", execution_id=self.execution_id)
                self.cancel()
                return
