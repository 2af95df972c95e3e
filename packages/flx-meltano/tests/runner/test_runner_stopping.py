"""Timeouts and cancellation stop every process, children included."""

from __future__ import annotations

import asyncio

import pytest

from flx_meltano.runner import RunSpec, RunStatus, run, start


async def test_a_hanging_tap_times_out_and_is_killed(tap, target, tmp_path, gone) -> None:
    # The tap writes its pids once its child runs. A loaded machine may take longer than
    # the timeout to get there; the run is then tried again.
    for attempt in range(5):
        pid_file = tmp_path / f"tap-{attempt}.pids"
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
        assert all(gone(p.pid) for p in result.processes)
        if pid_file.exists():
            break
    tap_pid, child_pid = (int(pid) for pid in pid_file.read_text().split())
    assert tap_pid == result.processes[0].pid
    assert gone(child_pid)


async def test_sigkill_follows_an_ignored_sigterm(tap, target, tmp_path, gone, pids_in) -> None:
    # Both write their pid file once they ignore SIGTERM; only then is the run stopped.
    tap_file, target_file = tmp_path / "tap.pid", tmp_path / "target.pid"
    handle = start(
        RunSpec(
            tap=tap("--hang", "--ignore-sigterm", "--pid-file", str(tap_file)),
            target=target("--ignore-sigterm", "--pid-file", str(target_file)),
            grace_period=0.3,
        )
    )
    await pids_in(tap_file)
    await pids_in(target_file)
    handle.cancel()
    result = await handle.wait()
    assert result.status is RunStatus.CANCELLED
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
