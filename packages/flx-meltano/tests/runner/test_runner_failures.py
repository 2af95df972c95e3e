"""Failures: which process failed, with what, and that nothing is left running."""

from __future__ import annotations

import asyncio

import pytest

from flx_meltano.runner import (
    ExecutableNotFoundError,
    ProcessSpec,
    ProcessStartError,
    RunResult,
    RunSpec,
    RunStatus,
    run,
)

RACES = 10
"""Copies of a run started at once where the order of events is up to the machine: their
relay threads compete for the interpreter lock and their processes for the CPUs, so the
runner notices a broken pipe and the exits of the processes in every order."""


async def run_all(spec: RunSpec, times: int = RACES) -> list[RunResult]:
    return list(await asyncio.gather(*(run(spec) for _ in range(times))))


def cause(process: str, how: str, *stderr: str) -> str:
    return "\n".join([f"{process} {how}", f"--- last stderr lines of {process} ---", *stderr])


async def test_failing_tap_fails_the_run_with_its_stderr(tap, target) -> None:
    spec = RunSpec(
        tap=tap("--records", "5", "--stderr", "boom: credentials rejected", "--exit-code", "1"),
        target=target(),
    )
    result = await run(spec)
    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "tap-test exited with code 1" in result.error
    assert "boom: credentials rejected" in result.error
    assert result.exit_codes == {"tap-test": 1, "target-test": 0}


async def test_target_finishes_and_its_states_count_after_the_tap_fails(tap, target) -> None:
    states: list[object] = []
    spec = RunSpec(
        tap=tap("--records", "7", "--exit-code", "3"),
        target=target("--slow-flush", "0.3"),
        on_state=states.append,
    )
    result = await run(spec)
    assert result.status is RunStatus.FAILED
    assert states == [result.last_state]
    assert result.last_state["records"] == 7


async def test_failing_target_stops_the_tap(tap, target, gone) -> None:
    spec = RunSpec(
        tap=tap("--forever"),
        target=target("--exit-after", "10", "--exit-code", "2"),
        grace_period=2,
    )
    result = await run(spec)
    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert result.error.startswith("target-test exited with code 2")
    assert "target giving up after 10 lines" in result.error
    assert "tap-test exited" not in result.error
    assert all(gone(p.pid) for p in result.processes)


async def test_a_failing_target_is_the_cause_whatever_the_runner_notices_first(
    tap, target, gone
) -> None:
    # The target fails on its first line while the tap writes megabytes: the relay's broken
    # pipe, the target's exit and the tap's own broken pipe reach the runner in any order.
    spec = RunSpec(tap=tap("--forever"), target=target("--exit-after", "1", "--exit-code", "2"))
    for result in await run_all(spec):
        assert result.error == cause(
            "target-test", "exited with code 2", "target giving up after 1 lines"
        )
        assert result.exit_codes["target-test"] == 2
        assert all(gone(p.pid) for p in result.processes)


async def test_a_target_failing_after_it_closed_its_input_is_the_cause(tap, target) -> None:
    # The broken pipe comes well before the exit that explains it.
    spec = RunSpec(
        tap=tap("--forever"),
        target=target("--exit-after", "1", "--close-stdin", "--linger", "0.5", "--exit-code", "2"),
    )
    result = await run(spec)
    assert result.error == cause(
        "target-test", "exited with code 2", "target giving up after 1 lines"
    )


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(("--die-by-signal", "9"), id="at once"),
        pytest.param(("--close-stdin", "--linger", "0.5", "--die-by-signal", "1"), id="later"),
    ],
)
async def test_a_target_killed_by_a_signal_is_the_cause(tap, target, how) -> None:
    spec = RunSpec(tap=tap("--forever"), target=target("--exit-after", "1", *how))
    signal = int(how[-1])
    name = {9: "SIGKILL", 1: "SIGHUP"}[signal]
    for result in await run_all(spec, RACES // 2):
        assert result.error == cause(
            "target-test",
            f"was killed by signal {signal} ({name})",
            "target giving up after 1 lines",
        )
        assert result.exit_codes["target-test"] == -signal


async def test_a_failing_mapper_is_the_cause_and_the_target_finishes(tap, mapper, target) -> None:
    spec = RunSpec(
        tap=tap("--forever"),
        mappers=(mapper("--exit-after", "3", "--exit-code", "3"),),
        target=target(),
    )
    for result in await run_all(spec):
        assert result.error == cause(
            "mapper-test", "exited with code 3", "mapper giving up after 3 lines"
        )
        # What the mapper passed on before it failed is loaded, and its state counts.
        assert result.exit_codes["target-test"] == 0
        assert result.last_state["lines"] == 3


async def test_a_failing_target_behind_a_mapper_is_the_cause(tap, mapper, target) -> None:
    # The mapper dies writing to the failed target: a consequence, not news.
    spec = RunSpec(
        tap=tap("--forever"),
        mappers=(mapper(),),
        target=target("--exit-after", "1", "--exit-code", "2"),
    )
    for result in await run_all(spec):
        assert result.error == cause(
            "target-test", "exited with code 2", "target giving up after 1 lines"
        )


async def test_a_target_that_stops_reading_early_fails_the_run(tap, target, gone) -> None:
    spec = RunSpec(tap=tap("--forever"), target=target("--exit-after", "5"))
    for result in await run_all(spec):
        assert result.status is RunStatus.FAILED
        assert result.error == cause(
            "target-test",
            "stopped reading its input before the tap finished",
            "target giving up after 5 lines",
        )
        assert result.exit_codes["target-test"] == 0
        assert all(gone(p.pid) for p in result.processes)


async def test_a_target_that_stops_reading_but_runs_on_is_stopped(tap, target, gone) -> None:
    spec = RunSpec(
        tap=tap("--forever"),
        target=target("--exit-after", "5", "--close-stdin", "--linger", "600"),
        grace_period=0.5,
    )
    result = await run(spec)
    assert result.error == cause(
        "target-test",
        "stopped reading its input before the tap finished",
        "target giving up after 5 lines",
    )
    assert all(gone(p.pid) for p in result.processes)


async def test_the_summary_keeps_the_last_20_stderr_lines(tap, target) -> None:
    lines = [arg for i in range(30) for arg in ("--stderr", f"line {i:02d}")]
    result = await run(RunSpec(tap=tap(*lines, "--exit-code", "1"), target=target()))
    assert result.error is not None
    assert "line 29" in result.error
    assert "line 10" in result.error
    assert "line 09" not in result.error
    assert len(result.processes[0].stderr_tail) == 20


async def test_a_program_that_cannot_be_executed_is_named(target, tmp_path) -> None:
    bogus = tmp_path / "tap-bogus"
    bogus.write_bytes(b"\x00\x01not a program")
    bogus.chmod(0o755)
    spec = RunSpec(tap=ProcessSpec("tap-bogus", (str(bogus),)), target=target())
    with pytest.raises(ProcessStartError, match="tap-bogus: could not start"):
        await run(spec)


async def test_a_cut_last_line_is_reported(tap, target) -> None:
    result = await run(RunSpec(tap=tap("--records", "4", "--truncate"), target=target()))
    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "tap-test ended its output with an incomplete line of" in result.error
    assert '{"type": "RECORD", "stream": "users", "rec' in result.error
    assert result.records == {"users": 4}
    assert result.last_state["records"] == 4


async def test_a_missing_executable_is_named_before_anything_starts(tap, tmp_path) -> None:
    pid_file = tmp_path / "tap.pid"
    spec = RunSpec(
        tap=tap("--pid-file", str(pid_file)),
        target=ProcessSpec("target-nowhere", ("flx-no-such-target-exists",)),
    )
    with pytest.raises(ExecutableNotFoundError, match=r"target-nowhere.*flx-no-such-target-exists"):
        await run(spec)
    assert not pid_file.exists()


async def test_a_failing_state_callback_fails_the_run(tap, target, gone) -> None:
    def on_state(value: object) -> None:
        raise RuntimeError("state store is down")

    spec = RunSpec(tap=tap("--records", "3"), target=target(), on_state=on_state)
    result = await run(spec)
    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "state store is down" in result.error
    assert all(gone(p.pid) for p in result.processes)


async def test_target_stdout_that_is_not_state_is_logged(tap, target, tmp_path) -> None:
    log = tmp_path / "run.log"
    result = await run(RunSpec(tap=tap(), target=target("--chatter"), log_path=log))
    assert result.succeeded
    assert "target-test (stdout) | target says hello" in log.read_text()
    assert result.states_emitted == 1


def test_process_names_must_be_unique(tap) -> None:
    with pytest.raises(ValueError, match="tap-test"):
        RunSpec(tap=tap(), target=tap())
