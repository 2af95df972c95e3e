"""A pipeline run from start to end: prepare, begin, run the processes, commit state, finish."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from flx_core.application import Application, load_pipeline
from flx_core.config import FlxSettings
from flx_core.domain import (
    DomainError,
    NotFound,
    Pipeline,
    PipelineExecution,
    Plugin,
    PluginType,
    Principal,
)
from flx_core.domain.ports import StateStorePort
from flx_meltano.engine.lifecycle import ExecutionLifecycle
from flx_meltano.engine.observer import NullObserver, RunObserver
from flx_meltano.engine.paths import log_path
from flx_meltano.engine.prepare import PreparedRun, prepare_run
from flx_meltano.runner import Progress, RunnerError, RunResult, RunStatus, start
from flx_meltano.state import merge_states

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RunOptions:
    full_refresh: bool = False
    refresh_catalog: bool = False
    timeout: float | None = None
    trigger: str = "manual"


class StateCommitter:
    """Commits the target's STATE messages as versions, at most once per ``interval``."""

    def __init__(
        self,
        store: StateStorePort,
        state_id: str,
        execution_id: str,
        base: dict[str, Any],
        observer: RunObserver,
        interval: float = 1.0,
    ) -> None:
        self.store, self.state_id, self.execution_id = store, state_id, execution_id
        self.base, self.observer, self.interval = base, observer, interval
        self.latest: dict[str, Any] | None = None
        self.committed: dict[str, Any] | None = None
        self.commits = 0
        self._last_commit = 0.0

    async def on_state(self, value: Any) -> None:
        if not isinstance(value, dict):
            return
        self.latest = value
        now = asyncio.get_running_loop().time()
        if now - self._last_commit >= self.interval:
            await self.commit(partial=True)

    async def commit(self, *, partial: bool) -> None:
        if self.latest is None:
            return
        merged = merge_states(self.base, self.latest)
        if merged == self.committed and partial:
            return
        saved = await self.store.set(
            self.state_id,
            merged,
            execution_id=self.execution_id,
            partial=partial,
            note="partial (run in progress or unfinished)" if partial else "run succeeded",
        )
        self.committed = merged
        self.commits += 1
        self._last_commit = asyncio.get_running_loop().time()
        self.observer.state_committed(saved.version)


class PipelineRunner:
    def __init__(
        self, app: Application, principal: Principal, observer: RunObserver | None = None
    ) -> None:
        self.app = app
        self.principal = principal
        self.observer: RunObserver = observer or NullObserver()
        self.settings = app.services.get(FlxSettings)
        self.store: StateStorePort = app.services.get(StateStorePort)  # type: ignore[type-abstract]
        stale = max(30.0, 6 * self.settings.heartbeat_seconds)
        self.lifecycle = ExecutionLifecycle(app, principal, stale)
        self._handle: Any = None
        self._cancelled = asyncio.Event()
        self.execution_id: str | None = None

    def cancel(self) -> None:
        """Stop the run (from a signal handler or another task)."""
        self._cancelled.set()
        if self._handle is not None:
            self._handle.cancel()

    async def _load(self, ref: str) -> tuple[Pipeline, list[Plugin]]:
        async with self.app.uow_factory() as uow:
            pipeline = await load_pipeline(uow, ref)
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
        return pipeline, plugins

    async def run(
        self, ref: str, options: RunOptions
    ) -> tuple[PipelineExecution, RunResult | None]:
        pipeline, plugins = await self._load(ref)
        home = self.settings.home_path
        execution = await self.lifecycle.begin(
            pipeline,
            trigger=options.trigger,
            full_refresh=options.full_refresh,
            log_path_for=lambda eid: str(log_path(home, pipeline.name, eid)),
        )
        self.execution_id = execution.id
        self.observer.started(execution)
        log.info("run_started", pipeline=pipeline.name, execution_id=execution.id)
        result: RunResult | None = None
        committer: StateCommitter | None = None
        try:
            stored = None if options.full_refresh else await self.store.get(pipeline.state_id)
            base_state = stored.value if stored else {}
            committer = StateCommitter(
                self.store, pipeline.state_id, execution.id, base_state, self.observer
            )
            async with prepare_run(
                pipeline,
                plugins,
                self.settings,
                os.environ,
                state=base_state or None,
                refresh_catalog=options.refresh_catalog,
            ) as prepared:
                result = await self._drive(execution, prepared, committer, options)
            status, error = result.status.value, result.error
            if result.status is RunStatus.SUCCEEDED:
                await committer.commit(partial=False)
            else:
                # The target emitted these states after flushing what they cover: keep them.
                await committer.commit(partial=True)
        except (DomainError, RunnerError, OSError, ValueError) as exc:
            status = "cancelled" if self._cancelled.is_set() else "failed"
            error = getattr(exc, "message", None) or str(exc)
            tail = getattr(exc, "stderr_tail", ())
            if tail:
                error += "\n" + "\n".join(tail[-10:])
        except Exception as exc:
            # A bug must not leave the execution "running" and the pipeline locked.
            log.exception("run_crashed", execution_id=execution.id)
            status, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        except (asyncio.CancelledError, KeyboardInterrupt):
            status, error = "cancelled", "cancelled"
            finished = await self._finish(execution, status, error, result, committer)
            self.observer.finished(finished, result)
            raise
        finished = await self._finish(execution, status, error, result, committer)
        self.observer.finished(finished, result)
        log.info(
            "run_finished",
            pipeline=pipeline.name,
            execution_id=execution.id,
            status=finished.status.value,
        )
        return finished, result

    async def _finish(
        self,
        execution: PipelineExecution,
        status: str,
        error: str | None,
        result: RunResult | None,
        committer: StateCommitter | None,
    ) -> PipelineExecution:
        exit_codes = {
            k: v for k, v in (result.exit_codes if result else {}).items() if v is not None
        }
        return await self.lifecycle.finish(
            execution.id,
            execution.pipeline_id,
            status=status,
            error=error,
            exit_codes=exit_codes,
            counts=dict(result.records) if result else {},
            bytes_=result.bytes if result else 0,
            states=committer.commits if committer else 0,
            details={"timed_out": bool(result and result.timed_out)},
        )

    async def _drive(
        self,
        execution: PipelineExecution,
        prepared: PreparedRun,
        committer: StateCommitter,
        options: RunOptions,
    ) -> RunResult:
        latest: dict[str, Any] = {"records": {}, "bytes": 0, "states": 0}

        def on_progress(p: Progress) -> None:
            latest.update(records=dict(p.records), bytes=p.bytes, states=p.states)
            self.observer.progress(dict(p.records), p.bytes, committer.commits, p.elapsed)

        timeout = options.timeout or self.settings.run_timeout_seconds
        spec = prepared.spec(
            log_path=Path(execution.log_path) if execution.log_path else None,
            timeout=timeout,
            grace=self.settings.termination_grace_seconds,
            on_state=committer.on_state,
            on_progress=on_progress,
        )
        if self._cancelled.is_set():
            raise asyncio.CancelledError
        self._handle = start(spec)
        watcher = asyncio.create_task(self._watch(execution.id, latest, committer))
        try:
            return await self._handle.wait()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    async def _watch(
        self, execution_id: str, latest: dict[str, Any], committer: StateCommitter
    ) -> None:
        """Heartbeat with progress; stop the run when a cancel request arrives."""
        beat_every = self.settings.heartbeat_seconds
        poll = min(1.0, beat_every)
        since_beat = 0.0
        while True:
            await asyncio.sleep(poll)
            since_beat += poll
            try:
                if since_beat >= beat_every:
                    since_beat = 0.0
                    wanted = await self.lifecycle.heartbeat(
                        execution_id, latest["records"], latest["bytes"], committer.commits
                    )
                else:
                    wanted = await self.lifecycle.cancel_requested(execution_id)
            except Exception:
                log.exception("heartbeat_failed", execution_id=execution_id)
                continue
            if wanted:
                log.info("cancel_requested", execution_id=execution_id)
                self.cancel()
                return
