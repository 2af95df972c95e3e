"""Timeouts and cancellation stop every process, children included."""

from __future__ import annotations

import asyncio

import pytest

from flx_meltano.runner import RunSpec, RunStatus, run, start


async def test_a_hanging_tap_times_out_and_is_killed(tap, target, tmp_path, gone, pids_in) -> None:
    pid_file = tmp_path / "tap.pids"
    spec = RunSpec(
        tap=tap("--hang", "--spawn-child", "--pid-file", str(pid_file)),
        target=target(),
        timeout=1,
        grace_period=1,
    )
    result = await run(spec)
    assert result.status is RunStatus.FAILED
    assert result.timed_out
    assert result.error is not None
    assert result.error.startswith("timed out after 1 s")
    tap_pid, child_pid = await pids_in(pid_file)
    assert tap_pid == result.processes[0].pid
    assert gone(tap_pid)
    assert gone(child_pid)
    assert gone(result.processes[1].pid)


async def test_sigkill_follows_an_ignored_sigterm(tap, target, gone) -> None:
    spec = RunSpec(
        tap=tap("--hang", "--ignore-sigterm"),
        target=target("--ignore-sigterm"),
        timeout=0.5,
        grace_period=0.3,
    )
    result = await run(spec)
    assert result.timed_out
    assert result.exit_codes == {"tap-test": -9, "target-test": -9}
    assert all(gone(p.pid) for p in result.processes)


async def test_cancel_stops_the_run(tap, target, tmp_path, gone, pids_in) -> None:
    pid_file = tmp_path / "tap.pids"
    handle = start(
        RunSpec(tap=tap("--hang", "--spawn-child", "--pid-file", str(pid_file)), target=target())
    )
    tap_pid, child_pid = await pids_in(pid_file)
    handle.cancel()
    result = await handle.wait()
    assert result.status is RunStatus.CANCELLED
    assert not result.timed_out
    assert all(gone(pid) for pid in (tap_pid, child_pid, *handle.pids.values()))


async def test_cancelling_the_awaiting_task_leaves_no_process(
    tap, target, tmp_path, gone, pids_in
) -> None:
    tap_file, target_file = tmp_path / "tap.pids", tmp_path / "target.pid"
    spec = RunSpec(
        tap=tap("--hang", "--spawn-child", "--pid-file", str(tap_file)),
        target=target("--pid-file", str(target_file)),
    )
    task = asyncio.create_task(run(spec))
    pids = [*await pids_in(tap_file), *await pids_in(target_file)]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(gone(pid) for pid in pids)


async def test_cancel_from_another_thread(tap, target, tmp_path, pids_in) -> None:
    pid_file = tmp_path / "tap.pids"
    handle = start(RunSpec(tap=tap("--hang", "--pid-file", str(pid_file)), target=target()))
    await pids_in(pid_file)
    await asyncio.to_thread(handle.cancel)
    assert (await handle).status is RunStatus.CANCELLED
