"""Runs as a service, in one process on both databases: run requests, retries, idempotency,
one active run per pipeline, the global limit of running executions, cancellation of queued
runs, tasks delivered twice, and the reaper."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import AddPlugin, CreatePipeline, GetExecution
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import ExecutionStatus, Pipeline, Principal
from flx_core.domain.ports import RunRequest
from flx_meltano import CancelExecution, ReapDeadExecutions, RetryExecution, RunPipeline
from flx_meltano.engine.lifecycle import request_run
from flx_meltano.engine.pipeline_run import PipelineRun
from flx_meltano.idempotency import IdempotencyKeyRepository

from .conftest import add_fixture_connectors

SYSTEM = Principal.system()


@pytest.fixture
async def service(
    flx_home: Path, connectors: dict[str, Path], database_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Runtime]:
    marker = request.node.get_closest_marker("settings")
    extra = marker.kwargs if marker else {}
    settings = load_settings(
        database_url=database_url, heartbeat_seconds=0.2, heartbeat_timeout=2.0, **extra
    )
    rt = await bootstrap(settings, migrate=False)
    await add_fixture_connectors(rt, connectors)
    yield rt
    await rt.aclose()


@pytest.fixture
def pipeline(service: Runtime, tmp_path: Path) -> Callable[..., Any]:
    async def make(name: str = "p", tap: dict[str, Any] | None = None, **fields: Any) -> Path:
        out = tmp_path / f"{name}-out.json"
        await ok(
            service,
            CreatePipeline(
                name=name,
                extractor="tap-fixture",
                loader="target-fixture",
                config={"tap-fixture": tap or {}, "target-fixture": {"path": str(out)}},
                **fields,
            ),
        )
        return out

    return make


async def ok(runtime: Runtime, message: Any) -> Any:
    result = await runtime.app.execute(message, principal=SYSTEM)
    assert result.ok, result.message
    return result.value


async def get(runtime: Runtime, execution_id: str) -> Any:
    return await ok(runtime, GetExecution(execution_id=execution_id))


async def until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``check`` (a coroutine function) until it returns something true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def wait_chain(runtime: Runtime, first_id: str) -> list[Any]:
    """The attempts of a run, following each failed one to its retry, until one ends with
    no retry after it."""
    chain = []
    execution_id: str | None = first_id
    while execution_id is not None:
        current = execution_id

        async def ended(current: str = current) -> Any:
            found = await get(runtime, current)
            return found if found.status.is_terminal else None

        done = await until(ended)
        chain.append(done)
        execution_id = done.details.get("next_attempt")
    return chain


async def test_a_request_returns_a_queued_execution_that_names_its_trigger_and_requester(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline(tap={"rows": 3})
    requested = await ok(service, RunPipeline(pipeline="p", trigger="api"))
    assert requested.status is ExecutionStatus.QUEUED
    assert (requested.trigger, requested.requested_by, requested.attempt) == ("api", "system", 1)
    assert service.executor is not None
    done = await service.executor.wait(requested.id)
    assert done.status is ExecutionStatus.SUCCEEDED and done.records == 3


async def test_a_failed_run_is_retried_as_linked_attempts_until_its_retries_run_out(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline(tap={"rows": 10, "fail_after": 2}, retries=2, retry_delay=0)
    first = await ok(service, RunPipeline(pipeline="p"))
    chain = await wait_chain(service, first.id)
    assert [e.attempt for e in chain] == [1, 2, 3]
    assert [e.status for e in chain] == [ExecutionStatus.FAILED] * 3
    assert [e.trigger for e in chain] == ["manual", "retry", "retry"]
    assert [e.retry_of for e in chain] == [None, first.id, first.id]
    assert all("simulated failure" in (e.error or "") for e in chain)


async def test_a_retry_succeeds_where_the_first_attempt_failed_and_resumes_from_its_state(
    service: Runtime, pipeline: Any, tmp_path: Path
) -> None:
    out = await pipeline(tap={"rows": 10, "fail_after": 6, "state_every": 2})
    first = await ok(service, RunPipeline(pipeline="p"))
    assert service.executor is not None
    failed = await service.executor.wait(first.id)
    assert failed.status is ExecutionStatus.FAILED and "next_attempt" not in failed.details
    # The cause is mended before the retry: the tap now delivers all its rows.
    from flx_core.application import UpdatePipeline

    await ok(
        service,
        UpdatePipeline(
            pipeline="p",
            changes={"config": {"tap-fixture": {"rows": 10}, "target-fixture": {"path": str(out)}}},
        ),
    )
    second = await ok(service, RetryExecution(execution_id=failed.id))
    assert (second.attempt, second.retry_of, second.trigger) == (2, failed.id, "retry")
    done = await service.executor.wait(second.id)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.records == 4  # rows 6..9: it went on from the committed bookmark


async def test_a_cancelled_run_is_never_retried(service: Runtime, pipeline: Any) -> None:
    await pipeline(tap={"rows": 1000, "sleep": 0.01}, retries=3, retry_delay=0)
    requested = await ok(service, RunPipeline(pipeline="p"))

    async def running() -> bool:
        return (await get(service, requested.id)).status is ExecutionStatus.RUNNING

    await until(running)
    await ok(service, CancelExecution(execution_id=requested.id))
    assert service.executor is not None
    done = await service.executor.wait(requested.id)
    assert done.status is ExecutionStatus.CANCELLED
    assert "next_attempt" not in done.details


def test_retry_backoff_doubles_per_attempt_with_jitter_and_a_cap() -> None:
    p = Pipeline(name="p", extractor="t", loader="l", retries=5, retry_delay=10)
    assert p.retry_backoff(2, 1.0) == 10
    assert p.retry_backoff(3, 1.0) == 20
    assert p.retry_backoff(4, 0.5) == 20
    assert p.retry_backoff(30, 1.0) == 3600


async def test_an_idempotency_key_returns_the_first_requests_execution(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline(tap={"rows": 2})
    await pipeline("other", tap={"rows": 2})
    first = await ok(service, RunPipeline(pipeline="p", idempotency_key="nightly-2026-11-28"))
    again = await ok(service, RunPipeline(pipeline="p", idempotency_key="nightly-2026-11-28"))
    assert again.id == first.id
    refused = await service.app.execute(
        RunPipeline(pipeline="other", idempotency_key="nightly-2026-11-28"), principal=SYSTEM
    )
    assert not refused.ok and "another pipeline" in (refused.message or "")
    assert service.executor is not None
    await service.executor.wait(first.id)
    # After 24 hours the key is free again.
    async with service.app.uow_factory() as uow:
        later = service.app.clock.now() + timedelta(hours=25)
        keys = uow.get(IdempotencyKeyRepository)
        assert await keys.reserve("nightly-2026-11-28", "x", "new-id", later) is None
        assert await keys.reserve("nightly-2026-11-28", "x", "newer", later) == ("x", "new-id")


async def test_simultaneous_requests_with_one_key_create_one_execution(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline(tap={"rows": 2})
    results = await asyncio.gather(
        *(
            service.app.execute(RunPipeline(pipeline="p", idempotency_key="k"), principal=SYSTEM)
            for _ in range(10)
        )
    )
    ids = {r.value.id for r in results if r.ok}
    assert len(ids) == 1, [r.message for r in results]
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]


async def test_a_second_request_is_refused_with_the_active_runs_id(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline(tap={"rows": 1000, "sleep": 0.01})
    first = await ok(service, RunPipeline(pipeline="p"))
    refused = await service.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM)
    assert not refused.ok and refused.error_code == "already_running"
    assert refused.details["execution"] == first.id
    await ok(service, CancelExecution(execution_id=first.id))


async def test_under_the_queue_policy_a_second_run_waits_for_the_first(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline(tap={"rows": 20, "sleep": 0.02}, on_conflict="queue")
    first = await ok(service, RunPipeline(pipeline="p"))
    second = await ok(service, RunPipeline(pipeline="p"))

    async def told_why() -> str:
        return str((await get(service, second.id)).details.get("waiting", ""))

    # The record says why it waits, for whoever follows it from another process.
    assert first.id[:12] in await until(told_why)
    assert service.executor is not None
    a, b = await asyncio.gather(service.executor.wait(first.id), service.executor.wait(second.id))
    assert a.status is b.status is ExecutionStatus.SUCCEEDED
    assert b.started_at >= a.finished_at
    assert "waiting" not in b.details


async def test_a_retry_holding_the_lock_goes_before_runs_queued_earlier(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline(
        tap={"rows": 20, "sleep": 0.02, "fail_after": 5},
        on_conflict="queue",
        retries=1,
        retry_delay=0,
    )
    first = await ok(service, RunPipeline(pipeline="p"))
    behind = await ok(service, RunPipeline(pipeline="p"))  # queued behind the first
    first_chain = await wait_chain(service, first.id)
    behind_chain = await wait_chain(service, behind.id)
    assert [e.attempt for e in first_chain] == [1, 2]
    assert [e.attempt for e in behind_chain] == [1, 2]
    # The first's retry held the pipeline's lock, so it ran before the one queued earlier.
    assert first_chain[1].finished_at <= behind_chain[0].started_at


@pytest.mark.settings(max_concurrent_runs=1)
async def test_a_run_waiting_for_a_place_in_the_local_pool_is_held_by_its_process(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline("a", tap={"rows": 30, "sleep": 0.02})
    await pipeline("b", tap={"rows": 2})
    first = await ok(service, RunPipeline(pipeline="a"))
    second = await ok(service, RunPipeline(pipeline="b"))

    async def held() -> Any:
        found = await get(service, second.id)
        return found if found.pid is not None else None

    waiting = await held() or await until(held)
    # Held by this process (were it to die, the reaper would free the pipeline at once).
    assert (waiting.status, waiting.pid) == (ExecutionStatus.QUEUED, os.getpid())
    assert "FLX_MAX_CONCURRENT_RUNS" in waiting.details["waiting"]
    assert service.executor is not None
    a = await service.executor.wait(first.id)
    b = await service.executor.wait(second.id)
    assert a.status is b.status is ExecutionStatus.SUCCEEDED
    assert b.started_at >= a.finished_at


@pytest.mark.settings(max_running=1)
async def test_the_global_limit_of_running_executions_holds(
    service: Runtime, pipeline: Any
) -> None:
    for name in ("a", "b", "c"):
        await pipeline(name, tap={"rows": 10, "sleep": 0.02})
    requested = [await ok(service, RunPipeline(pipeline=name)) for name in ("a", "b", "c")]
    most = 0
    while True:
        current = [await get(service, r.id) for r in requested]
        most = max(most, sum(e.status is ExecutionStatus.RUNNING for e in current))
        if all(e.status.is_terminal for e in current):
            break
        await asyncio.sleep(0.02)
    assert most == 1
    assert all(e.status is ExecutionStatus.SUCCEEDED for e in current)
    spans = sorted((e.started_at, e.finished_at) for e in current)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))


@pytest.mark.settings(max_running=1)
async def test_a_queued_execution_that_is_cancelled_never_starts(
    service: Runtime, pipeline: Any, tmp_path: Path
) -> None:
    await pipeline("busy", tap={"rows": 1000, "sleep": 0.01})
    out = await pipeline("waiting", tap={"rows": 5})
    busy = await ok(service, RunPipeline(pipeline="busy"))

    async def running() -> bool:
        return (await get(service, busy.id)).status is ExecutionStatus.RUNNING

    await until(running)
    waiting = await ok(service, RunPipeline(pipeline="waiting"))
    await asyncio.sleep(0.5)
    assert (await get(service, waiting.id)).status is ExecutionStatus.QUEUED
    cancelled = await ok(service, CancelExecution(execution_id=waiting.id))
    assert cancelled.status is ExecutionStatus.CANCELLED
    await ok(service, CancelExecution(execution_id=busy.id))
    assert service.executor is not None
    await service.executor.wait(busy.id)
    done = await service.executor.wait(waiting.id)
    assert done.status is ExecutionStatus.CANCELLED and not done.exit_codes
    assert not out.exists()  # its target never ran
    again = await ok(service, RunPipeline(pipeline="waiting"))  # and its pipeline is free
    assert (await service.executor.wait(again.id)).status is ExecutionStatus.SUCCEEDED


async def test_a_run_request_delivered_twice_runs_once(
    service: Runtime, pipeline: Any, connectors: dict[str, Path], tmp_path: Path
) -> None:
    starts = tmp_path / "tap-starts"
    counted = tmp_path / "bin" / "tap-counted"
    counted.write_text(f'#!/bin/sh\necho start >> {starts}\nexec {connectors["tap"]} "$@"\n')
    counted.chmod(0o755)
    await ok(
        service,
        AddPlugin(
            plugin_type="extractor",
            name="tap-counted",
            executable=str(counted),
            capabilities=["state"],
        ),
    )
    await pipeline(tap={"rows": 30, "sleep": 0.005})
    from flx_core.application import UpdatePipeline

    await ok(service, UpdatePipeline(pipeline="p", changes={"extractor": "tap-counted"}))
    async with service.app.uow_factory() as uow:
        p = await uow.pipelines.get_by_name("p")
        queued = await request_run(
            uow,
            p,
            settings=service.settings,
            now=service.app.clock.now(),
            trigger="manual",
            requested_by="test",
            log_path_for=lambda eid: str(tmp_path / f"{eid}.log"),
        )
        await uow.commit()
    request = RunRequest(execution_id=queued.id, pipeline_id=p.id, principal=SYSTEM)
    executor: Any = service.executor

    def delivery() -> PipelineRun:
        return PipelineRun(request, service.app, service.settings, executor.store, executor.logs)

    results = await asyncio.gather(delivery().run(), delivery().run())
    assert starts.read_text().splitlines() == ["start"]  # one tap process, not two
    done = await get(service, queued.id)
    assert done.status is ExecutionStatus.SUCCEEDED and done.records == 10  # its defaults
    assert ExecutionStatus.SUCCEEDED in {r.status for r in results}
    # A late redelivery finds it ended and leaves its record alone.
    late = await delivery().run()
    assert (late.finished_at, late.version) == (done.finished_at, done.version)
    assert starts.read_text().splitlines() == ["start"]


async def test_the_reaper_fails_a_lost_worker_frees_its_pipeline_and_retries_it(
    service: Runtime, pipeline: Any, tmp_path: Path
) -> None:
    await pipeline(tap={"rows": 3}, retries=1, retry_delay=0)
    now = service.app.clock.now()
    async with service.app.uow_factory() as uow:
        p = await uow.pipelines.get_by_name("p")
        lost = await request_run(
            uow,
            p,
            settings=service.settings,
            now=now - timedelta(minutes=5),
            trigger="manual",
            requested_by="test",
            log_path_for=lambda eid: str(tmp_path / f"{eid}.log"),
        )
        lost.start(host="a-machine-that-died", pid=4242, now=now - timedelta(minutes=5))
        await uow.executions.save(lost)
        await uow.commit()
    reaped = await ok(service, ReapDeadExecutions())
    assert reaped.reaped == [lost.id] and len(reaped.retries) == 1
    # A `flx` command's local executor cannot run a retry after it exits: it leaves it to
    # the caller, which hands it to a process of its own.
    assert not reaped.submitted
    executor: Any = service.executor
    retry = await get(service, reaped.retries[0])
    executor.submit(
        RunRequest(execution_id=retry.id, pipeline_id=retry.pipeline_id, principal=SYSTEM)
    )
    chain = await wait_chain(service, lost.id)
    assert chain[0].status is ExecutionStatus.FAILED
    assert chain[0].error.startswith("worker lost: no heartbeat since")
    assert (chain[1].attempt, chain[1].status) == (2, ExecutionStatus.SUCCEEDED)
    assert socket.gethostname() == chain[1].host


async def test_a_run_taken_for_lost_stops_itself_and_keeps_the_reapers_verdict(
    service: Runtime, pipeline: Any
) -> None:
    await pipeline(tap={"rows": 2000, "sleep": 0.01})
    requested = await ok(service, RunPipeline(pipeline="p"))

    async def running() -> Any:
        found = await get(service, requested.id)
        return found if found.status is ExecutionStatus.RUNNING and found.records else None

    await until(running)
    # A reaper elsewhere took it for lost (a heartbeat late past the timeout, say).
    async with service.app.uow_factory() as uow:
        lost = await uow.executions.get(requested.id)
        lost.fail("worker lost: no heartbeat since (test)")
        await uow.executions.save(lost)
        await uow.commit()
    assert service.executor is not None
    done = await service.executor.wait(requested.id)
    assert done.status is ExecutionStatus.FAILED
    assert done.error == "worker lost: no heartbeat since (test)"
    assert done.records < 2000  # it stopped instead of running on beside a retry
