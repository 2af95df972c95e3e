"""The run path's promises: what a run tells and keeps when preparation, discovery or a
full refresh goes wrong."""

from __future__ import annotations

from pathlib import Path

from flx_core.application import AddPlugin, CreatePipeline, UpdatePipeline
from flx_core.bootstrap import Runtime
from flx_core.domain import ExecutionStatus, Principal
from flx_meltano import GetState, RunPipeline, StateHistory

SYSTEM = Principal.system()


async def run(runtime: Runtime, name: str = "p", **kw: object):
    requested = await runtime.app.execute(RunPipeline(pipeline=name, **kw), principal=SYSTEM)
    assert requested.ok, requested.message
    assert runtime.executor is not None
    return await runtime.executor.wait(requested.value.id)


async def ok(runtime: Runtime, message: object):
    result = await runtime.app.execute(message, principal=SYSTEM)  # type: ignore[arg-type]
    assert result.ok, result.message
    return result.value


async def test_an_unfinished_full_refresh_leaves_the_stored_state_as_it_was(
    runtime, make_pipeline, tmp_path: Path
) -> None:
    await make_pipeline(tap={"rows": 10})
    first = await run(runtime)
    assert first.status is ExecutionStatus.SUCCEEDED, first.error
    before = await ok(runtime, GetState(state_id="p"))
    assert before.value == {"bookmarks": {"items": {"position": 10}}}
    versions = [v.version for v in await ok(runtime, StateHistory(state_id="p"))]
    await ok(
        runtime,
        UpdatePipeline(
            pipeline="p",
            changes={
                "config": {
                    "tap-fixture": {"rows": 100_000, "sleep": 0.01, "state_every": 2},
                    "target-fixture": {"path": str(tmp_path / "out.json")},
                }
            },
        ),
    )
    cut = await run(runtime, full_refresh=True, timeout=1.5)
    assert cut.status is ExecutionStatus.FAILED and "timed out" in (cut.error or "")
    after = await ok(runtime, GetState(state_id="p"))
    assert (after.version, after.value) == (before.version, before.value)
    history = await ok(runtime, StateHistory(state_id="p"))
    assert [v.version for v in history] == versions


async def test_a_full_refresh_that_succeeds_replaces_the_state(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 10})
    await run(runtime)
    full = await run(runtime, full_refresh=True)
    assert full.status is ExecutionStatus.SUCCEEDED and full.records == 10
    after = await ok(runtime, GetState(state_id="p"))
    assert after.value == {"bookmarks": {"items": {"position": 10}}} and not after.partial


async def test_a_failed_discovery_leaves_its_stderr_in_the_run_log(runtime, tmp_path: Path) -> None:
    tap = tmp_path / "tap-broken"
    tap.write_text(
        '#!/bin/sh\necho "tap-broken: cannot connect: bad credentials for db1" >&2\nexit 3\n'
    )
    tap.chmod(0o755)
    await ok(
        runtime,
        AddPlugin(
            plugin_type="extractor",
            name="tap-broken",
            executable=str(tap),
            capabilities=["catalog", "discover"],
        ),
    )
    await ok(runtime, CreatePipeline(name="b", extractor="tap-broken", loader="target-fixture"))
    execution = await run(runtime, "b")
    assert execution.status is ExecutionStatus.FAILED
    assert "discovery exited with code 3" in (execution.error or "")
    log = Path(execution.log_path or "").read_text()
    assert "cannot connect: bad credentials for db1" in log
    assert "--discover exited with code 3" in log


async def test_select_rules_a_tap_cannot_apply_are_a_stored_warning(runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": 3})
    await ok(runtime, UpdatePipeline(pipeline="p", changes={"select": ["items.id"]}))
    seen: list[str] = []

    class Collect:
        def started(self, execution: object) -> None: ...

        def warning(self, message: str) -> None:
            seen.append(message)

        def progress(self, *args: object) -> None: ...

        def state_committed(self, version: int) -> None: ...

        def finished(self, execution: object, result: object) -> None: ...

    requested = await ok(runtime, RunPipeline(pipeline="p"))
    assert runtime.executor is not None
    done = await runtime.executor.wait(requested.id, Collect())
    assert done.status is ExecutionStatus.SUCCEEDED
    assert len(seen) == 1 and "select rules are not applied" in seen[0]
    assert done.warnings == seen


async def test_a_run_whose_process_died_is_reaped_and_frees_its_pipeline(
    runtime, make_pipeline
) -> None:
    import subprocess

    from flx_core.application import GetExecution
    from flx_meltano import ReapDeadExecutions
    from flx_meltano.engine.lifecycle import request_run

    await make_pipeline(tap={"rows": 2})
    dead = subprocess.Popen(["true"])
    dead.wait()
    async with runtime.app.uow_factory() as uow:  # a run some other `flx` started, then died
        pipeline = await uow.pipelines.get_by_name("p")
        execution = await request_run(
            uow,
            pipeline,
            settings=runtime.settings,
            trigger="manual",
            requested_by="someone",
            log_path_for=lambda eid: f"/nonexistent/{eid}.log",
            now=runtime.app.clock.now(),
        )
        execution.start(host=__import__("socket").gethostname(), pid=dead.pid)
        await uow.executions.save(execution)
        await uow.commit()
    reaped = await ok(runtime, ReapDeadExecutions())
    assert (reaped.reaped, reaped.retries) == ([execution.id], [])
    shown = await ok(runtime, GetExecution(execution_id=execution.id))
    assert shown.status is ExecutionStatus.FAILED
    assert shown.error == (
        f"worker lost: the process running it (pid {dead.pid} on "
        f"{__import__('socket').gethostname()}) is gone"
    )
    assert (await ok(runtime, ReapDeadExecutions())).reaped == []
    again = await run(runtime)  # the pipeline's lock was released with it
    assert again.status is ExecutionStatus.SUCCEEDED


async def test_a_run_that_ended_before_anyone_waited_can_still_be_waited_for(
    runtime, make_pipeline
) -> None:
    await make_pipeline(tap={"rows": 1})
    requested = await ok(runtime, RunPipeline(pipeline="p"))
    assert runtime.executor is not None
    for _ in range(400):  # let it end on its own first
        if requested.id not in runtime.executor.active:
            break
        await __import__("asyncio").sleep(0.05)
    assert requested.id not in runtime.executor.active
    done = await runtime.executor.wait(requested.id)
    assert done.id == requested.id and done.status is ExecutionStatus.SUCCEEDED
