"""Scheduler processes on one database, with a clock the test moves and an executor that
keeps what it is given (the executions stay queued: what happens to a run is not the
scheduler's business, and a queued run is one that is active)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import AddPlugin, CreatePipeline, ProcessKind, Wiring, core_module
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import NotFound, PipelineExecution, Principal
from flx_core.domain.ports import ExecutionFilter, RunRequest
from flx_core.testing.fakes import FakeClock

SYSTEM = Principal.system()
#: When the tests' pipelines are created: half a minute past a minute boundary.
T0 = datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC)


def minute(n: int, seconds: float = 0.0) -> datetime:
    """The n-th minute boundary after T0's minute, plus ``seconds``."""
    return datetime(2024, 5, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=n, seconds=seconds)


class RecordingExecutor:
    """An ExecutorPort that records the requests it is given and runs none."""

    def __init__(self) -> None:
        self.submitted: list[RunRequest] = []

    def submit(self, request: RunRequest) -> None:
        self.submitted.append(request)

    async def wait(self, execution_id: str, observer: Any = None) -> PipelineExecution:
        raise NotFound(f"execution {execution_id} is not run here")

    def cancel(self, execution_id: str) -> bool:
        return False


async def scheduler_process(url: str, clock: FakeClock, executor: RecordingExecutor) -> Runtime:
    """A scheduler process's application on ``url`` whose engine hands runs to ``executor``
    (the engine's handlers bound as its module factory binds them, but to that executor)."""
    import flx_meltano.module  # noqa: F401  (registers the engine's handlers)
    from flx_meltano.application.install_jobs import InstallJobRunner
    from flx_meltano.application.module import handlers, state_store
    from flx_meltano.logs import log_store

    settings = load_settings(database_url=url)
    wiring = Wiring(ProcessKind.SCHEDULER, settings, session_factory=None, clock=clock)
    engine = handlers.with_dependencies(
        settings=settings,
        store=state_store(wiring),
        logs=log_store(wiring),
        executor=executor,
        background=True,  # a scheduler outlives the runs it hands over
        install_jobs=InstallJobRunner(settings),
    )
    engine.executor = executor
    return await bootstrap(
        settings, kind=ProcessKind.SCHEDULER, modules=[core_module, engine], clock=clock
    )


class World:
    """Processes on one database sharing one clock."""

    system = SYSTEM
    minute = staticmethod(minute)

    def __init__(self, url: str) -> None:
        self.url = url
        self.clock = FakeClock(T0)
        self.processes: list[tuple[Runtime, RecordingExecutor]] = []

    async def process(self) -> tuple[Runtime, RecordingExecutor]:
        executor = RecordingExecutor()
        runtime = await scheduler_process(self.url, self.clock, executor)
        self.processes.append((runtime, executor))
        return runtime, executor

    @property
    def app(self) -> Any:
        return self.processes[0][0].app

    @property
    def app_settings(self) -> Any:
        return self.processes[0][0].settings

    async def execute(self, message: Any) -> Any:
        result = await self.app.execute(message, principal=SYSTEM)
        assert result.ok, result.message
        return result.value

    async def pipeline(self, name: str = "p", **fields: Any) -> Any:
        """A pipeline of no-op plugins, created at the clock's time (the first one adds them)."""
        if not self.processes:
            await self.process()
        known = {p.name for p in await self.execute(_list_plugins())}
        for kind, plugin in (("extractor", "tap-noop"), ("loader", "target-noop")):
            if plugin not in known:
                await self.execute(AddPlugin(plugin_type=kind, name=plugin, executable="true"))
        fields = {"schedule": "* * * * *", **fields}
        return await self.execute(
            CreatePipeline(name=name, extractor="tap-noop", loader="target-noop", **fields)
        )

    async def executions(self, pipeline: str = "p") -> list[PipelineExecution]:
        async with self.app.uow_factory() as uow:
            page = await uow.executions.list(ExecutionFilter(pipeline_name=pipeline), limit=500)
        return list(page.items)

    async def fires(self, pipeline_id: str) -> list[Any]:
        from flx_meltano.scheduling.repository import ScheduleFireRepository

        async with self.app.uow_factory() as uow:
            return list(reversed(await uow.get(ScheduleFireRepository).fires(pipeline_id)))


def _list_plugins() -> Any:
    from flx_core.application import ListPlugins

    return ListPlugins()


@pytest.fixture
async def world(database_url: str, flx_home: Path) -> AsyncIterator[World]:
    w = World(database_url)
    try:
        yield w
    finally:
        for runtime, _ in w.processes:
            await runtime.aclose()
