"""Following a run that another process records: what the requester's live view is told."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import ExecutionStatus, NotFound, PipelineExecution, Principal
from flx_meltano import RunPipeline
from flx_meltano.distributed import CeleryExecutor

from .conftest import add_fixture_pipeline, delete_queue

SYSTEM = Principal.system()


class Recorder:
    """An observer that writes down every call it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def started(self, execution: PipelineExecution) -> None:
        self.calls.append(("started", execution.id))

    def warning(self, message: str) -> None:
        self.calls.append(("warning", message))

    def progress(self, records: dict[str, int], bytes_: int, states: int, elapsed: float) -> None:
        self.calls.append(("progress", (dict(records), bytes_, states)))

    def state_committed(self, version: int) -> None:
        self.calls.append(("state_committed", version))

    def finished(self, execution: PipelineExecution, result: Any) -> None:
        self.calls.append(("finished", (execution.status.value, result)))

    def named(self, name: str) -> list[Any]:
        return [args for call, args in self.calls if call == name]


@pytest.fixture
async def runtime(flx_home: Path, tmp_path: Path, redis_broker_url: str) -> Any:
    """A celery-executor process whose runs nobody takes from the broker: the test plays
    the worker by writing the execution, as a worker's heartbeats do."""
    import uuid

    url = redis_broker_url
    runtime = await bootstrap(
        load_settings(
            executor="celery",
            broker_url=url,
            default_queue=f"t-{uuid.uuid4().hex[:12]}",
        )
    )
    try:
        await add_fixture_pipeline(runtime, tmp_path)
        yield runtime
    finally:
        await runtime.aclose()
        delete_queue(url, runtime.settings.default_queue)


async def save(runtime: Runtime, execution_id: str, change: Any) -> None:
    async with runtime.app.uow_factory() as uow:
        execution = await uow.executions.get(execution_id)
        assert execution is not None
        change(execution)
        await uow.executions.save(execution)
        await uow.commit()


async def play_worker(runtime: Runtime, execution_id: str) -> None:
    """What a worker records for a run, step by step, a poll apart."""
    pause = 0.7
    await asyncio.sleep(pause)
    await save(runtime, execution_id, lambda e: e.start(host="elsewhere", pid=4242))
    await asyncio.sleep(pause)
    await save(runtime, execution_id, lambda e: e.record_progress({"items": 10}, 1, 800))
    await asyncio.sleep(pause)

    def more(e: PipelineExecution) -> None:
        e.record_progress({"items": 25, "other": 5}, 3, 2400)
        e.warn("stream nobody is not selected")

    await save(runtime, execution_id, more)
    await asyncio.sleep(pause)
    await save(runtime, execution_id, lambda e: e.succeed(exit_codes={"tap": 0, "target": 0}))


async def test_wait_shows_the_progress_a_worker_records_and_returns_its_end(
    runtime: Runtime,
) -> None:
    requested = await runtime.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM)
    assert requested.ok, requested.message
    execution_id = requested.value.id
    executor = runtime.executor
    assert isinstance(executor, CeleryExecutor)
    observer = Recorder()
    worker = asyncio.create_task(play_worker(runtime, execution_id))
    finished = await asyncio.wait_for(executor.wait(execution_id, observer), 30)
    await worker

    assert finished.status is ExecutionStatus.SUCCEEDED
    assert finished.host == "elsewhere"
    assert observer.named("started") == [execution_id]
    progress = observer.named("progress")
    assert ({"items": 10}, 800, 1) in progress
    assert progress[-1] == ({"items": 25, "other": 5}, 2400, 3)
    assert observer.named("state_committed") == [1, 2, 3]
    assert observer.named("warning") == ["stream nobody is not selected"]
    assert observer.named("finished") == [("succeeded", None)]
    assert observer.calls[-1][0] == "finished"
    assert observer.calls[0][0] == "started", "nothing is shown before the run starts"


async def test_a_run_cancelled_before_any_worker_took_it_never_shows_as_started(
    runtime: Runtime,
) -> None:
    from flx_meltano import CancelExecution

    requested = await runtime.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM)
    execution_id = requested.value.id
    executor = runtime.executor
    assert executor is not None
    observer = Recorder()
    waiting = asyncio.create_task(executor.wait(execution_id, observer))
    await asyncio.sleep(0.7)
    assert not waiting.done()
    # Not in this process: the caller is to record the cancel request instead.
    assert executor.cancel(execution_id) is False
    cancelled = await runtime.app.execute(
        CancelExecution(execution_id=execution_id), principal=SYSTEM
    )
    assert cancelled.ok, cancelled.message
    finished = await asyncio.wait_for(waiting, 10)
    assert finished.status is ExecutionStatus.CANCELLED
    assert observer.named("started") == []
    assert observer.named("finished") == [("cancelled", None)]


async def test_waiting_for_an_unknown_execution_is_not_found(runtime: Runtime) -> None:
    assert runtime.executor is not None
    with pytest.raises(NotFound):
        await runtime.executor.wait("no-such-execution")
