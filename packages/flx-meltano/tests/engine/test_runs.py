"""Pipeline runs through the application: state, executions, failures, locks, cancel."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from flx_core.application import GetExecution
from flx_core.bootstrap import Runtime
from flx_core.domain import ExecutionStatus, Principal
from flx_meltano import CancelExecution, GetState, RunPipeline, StateHistory

SYSTEM = Principal.system()


async def run(runtime: Runtime, name: str = "p", **kw: object):
    result = await runtime.app.execute(RunPipeline(pipeline=name, **kw), principal=SYSTEM)
    assert result.ok, result.message
    return result.value


async def current_state(runtime: Runtime, name: str = "p") -> dict | None:
    result = await runtime.app.execute(GetState(state_id=name), principal=SYSTEM)
    return result.value.value if result.ok else None


async def test_success_counts_records_and_commits_state(runtime, make_pipeline) -> None:
    out = await make_pipeline(tap={"rows": 23, "state_every": 5})
    execution, _result = await run(runtime)
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.error
    assert execution.stream_counts == {"items": 23} and execution.records == 23
    assert execution.exit_codes == {"tap-fixture": 0, "target-fixture": 0}
    assert await current_state(runtime) == {"bookmarks": {"items": {"position": 23}}}
    assert len(json.loads(out.read_text())["items"]) == 23
    log = Path(execution.log_path).read_text()
    assert "tap_fixture: done" in log


async def test_rerun_continues_from_bookmark_and_full_refresh_ignores_it(
    runtime, make_pipeline
) -> None:
    await make_pipeline(tap={"rows": 10})
    await run(runtime)
    again, _ = await run(runtime)
    assert again.records == 0
    full, _ = await run(runtime, full_refresh=True)
    assert full.records == 10


async def test_failed_tap_keeps_last_committed_state(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 10})
    await run(runtime)
    before = await current_state(runtime)
    await runtime.app.execute(
        __import__("flx_core.application", fromlist=["UpdatePipeline"]).UpdatePipeline(
            pipeline="p",
            changes={
                "config": {
                    "tap-fixture": {"rows": 50, "fail_after": 17, "state_every": 100},
                    "target-fixture": {"path": str(Path(os.getcwd()) / "o.json")},
                }
            },
        ),
        principal=SYSTEM,
    )
    failed, _ = await run(runtime)
    assert failed.status is ExecutionStatus.FAILED
    assert "tap-fixture" in (failed.error or "")
    assert "simulated failure at row 17" in (failed.error or "")
    assert await current_state(runtime) == before


async def test_target_failure_and_bad_messages_fail_the_execution(runtime, make_pipeline) -> None:
    cases = {
        "t1": ({"rows": 5}, {"fail": True}, "simulated failure"),
        "t2": ({"rows": 5, "garbage": True}, {}, "is not JSON"),
        "t3": ({"rows": 5, "orphan_record": True}, {}, "before its SCHEMA"),
    }
    for name, (tap, target, needle) in cases.items():
        await make_pipeline(name, tap=tap, target=target)
        execution, _ = await run(runtime, name)
        assert execution.status is ExecutionStatus.FAILED, name
        assert needle in (execution.error or ""), (name, execution.error)


async def test_timeout_fails_and_leaves_no_process(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 2, "hang": True})
    execution, result = await run(runtime, timeout=2)
    assert execution.status is ExecutionStatus.FAILED
    assert "timed out" in (execution.error or "")
    for outcome in result.processes:
        try:
            os.kill(outcome.pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"{outcome.name} (pid {outcome.pid}) survived")


async def test_second_concurrent_run_is_refused(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 100, "sleep": 0.05})
    first = asyncio.create_task(runtime.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM))
    executor = runtime.app.services.get(__import__("flx_meltano").LocalExecutor)
    for _ in range(300):  # until the first run holds the pipeline (a loaded machine is slow)
        await asyncio.sleep(0.05)
        if any(executor.active):  # an execution id: it holds the lock
            break
    assert any(executor.active), "the first run never started"
    second = await runtime.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM)
    assert second.error_code == "already_running"
    assert "already running" in (second.message or "")
    done = await first
    assert done.ok and done.value[0].status is ExecutionStatus.SUCCEEDED


async def test_cancel_request_stops_the_run(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 1000, "sleep": 0.01, "state_every": 10})
    task = asyncio.create_task(runtime.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM))
    execution_id = None
    for _ in range(100):
        await asyncio.sleep(0.1)
        executor = runtime.app.services.get(__import__("flx_meltano").LocalExecutor)
        if executor.active and executor.active[0]:
            execution_id = executor.active[0]
            break
    assert execution_id is not None
    await asyncio.sleep(0.5)
    cancelled = await runtime.app.execute(
        CancelExecution(execution_id=execution_id), principal=SYSTEM
    )
    assert cancelled.ok, cancelled.message
    done = (await task).value[0]
    assert done.status is ExecutionStatus.CANCELLED
    shown = (
        await runtime.app.execute(GetExecution(execution_id=execution_id), principal=SYSTEM)
    ).value
    assert shown.status is ExecutionStatus.CANCELLED
    history = (await runtime.app.execute(StateHistory(state_id="p"), principal=SYSTEM)).value
    assert history and all(v.partial for v in history)


async def test_unknown_plugin_and_missing_executable(runtime, make_pipeline, connectors) -> None:
    await make_pipeline(tap={"rows": 1})
    connectors["tap"].unlink()
    execution, _ = await run(runtime)
    assert execution.status is ExecutionStatus.FAILED
    assert "tap-fixture" in (execution.error or "")
    missing = await runtime.app.execute(RunPipeline(pipeline="ghost"), principal=SYSTEM)
    assert missing.error_code == "not_found"
