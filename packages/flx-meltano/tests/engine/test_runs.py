"""Pipeline runs through the application: state, executions, failures, locks, cancel."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

from flx_core.application import GetExecution
from flx_core.bootstrap import Runtime
from flx_core.domain import ExecutionStatus, Principal
from flx_meltano import CancelExecution, GetState, RunPipeline, StateHistory

SYSTEM = Principal.system()


async def run(runtime: Runtime, name: str = "p", **kw: object):
    """Request a run and follow it to its end, as `flx run` does."""
    requested = await start(runtime, name, **kw)
    assert runtime.executor is not None
    return await runtime.executor.wait(requested.id)


async def start(runtime: Runtime, name: str = "p", **kw: object):
    """Request a run; the queued execution, the run going on in the background."""
    result = await runtime.app.execute(RunPipeline(pipeline=name, **kw), principal=SYSTEM)
    assert result.ok, result.message
    return result.value


def started_pids(execution) -> dict[str, int]:
    """The processes of a run, as its log names them ("started tap-x (pid 12), ...")."""
    text = Path(execution.log_path).read_text()
    return {name: int(pid) for name, pid in re.findall(r"([\w-]+) \(pid (\d+)\)", text)}


async def current_state(runtime: Runtime, name: str = "p") -> dict | None:
    result = await runtime.app.execute(GetState(state_id=name), principal=SYSTEM)
    return result.value.value if result.ok else None


async def test_success_counts_records_and_commits_state(runtime, make_pipeline) -> None:
    out = await make_pipeline(tap={"rows": 23, "state_every": 5})
    execution = await run(runtime)
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
    again = await run(runtime)
    assert again.records == 0
    full = await run(runtime, full_refresh=True)
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
    failed = await run(runtime)
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
        execution = await run(runtime, name)
        assert execution.status is ExecutionStatus.FAILED, name
        assert needle in (execution.error or ""), (name, execution.error)


async def test_timeout_fails_and_leaves_no_process(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 2, "hang": True})
    execution = await run(runtime, timeout=2)
    assert execution.status is ExecutionStatus.FAILED
    assert "timed out" in (execution.error or "")
    pids = started_pids(execution)
    assert set(pids) == {"tap-fixture", "target-fixture"}
    for name, pid in pids.items():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"{name} (pid {pid}) survived")


async def test_second_concurrent_run_is_refused(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 100, "sleep": 0.05})
    first = await start(runtime)  # queued, holding the pipeline's lock
    second = await runtime.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM)
    assert second.error_code == "already_running"
    assert "already running" in (second.message or "")
    assert first.id[:12] in (second.message or "")
    done = await runtime.executor.wait(first.id)
    assert done.status is ExecutionStatus.SUCCEEDED


async def test_cancel_request_stops_the_run(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 1000, "sleep": 0.01, "state_every": 10})
    execution_id = (await start(runtime)).id
    task = asyncio.create_task(runtime.executor.wait(execution_id))
    for _ in range(600):  # until the target confirmed a first state (a loaded machine is slow)
        if (await runtime.app.execute(StateHistory(state_id="p"), principal=SYSTEM)).ok:
            break
        await asyncio.sleep(0.05)
    cancelled = await runtime.app.execute(
        CancelExecution(execution_id=execution_id), principal=SYSTEM
    )
    assert cancelled.ok, cancelled.message
    done = await task
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
    execution = await run(runtime)
    assert execution.status is ExecutionStatus.FAILED
    assert "tap-fixture" in (execution.error or "")
    missing = await runtime.app.execute(RunPipeline(pipeline="ghost"), principal=SYSTEM)
    assert missing.error_code == "not_found"
