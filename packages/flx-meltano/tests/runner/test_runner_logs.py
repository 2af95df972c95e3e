"""The run log: every stderr line, prefixed with time and source, whatever its size."""

from __future__ import annotations

import re

from flx_meltano.runner import RunSpec, run

PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<source>[\w() -]+?) \| ")


async def test_stderr_lines_are_logged_with_time_and_source(tap, target, tmp_path) -> None:
    log = tmp_path / "logs" / "run.log"
    spec = RunSpec(
        tap=tap("--stderr", "extracting users", "--stderr", "done"),
        target=target("--stderr", "loading"),
        log_path=log,
    )
    result = await run(spec)
    assert result.succeeded
    lines = log.read_text().splitlines()
    assert all(PREFIX.match(line) for line in lines)
    messages = [PREFIX.sub("", line) for line in lines if " flx | " not in line]
    by_source = {
        (m.group("source"), PREFIX.sub("", line))
        for line in lines
        if (m := PREFIX.match(line)) and m.group("source") != "flx"
    }
    assert by_source == {
        ("tap-test", "extracting users"),
        ("tap-test", "done"),
        ("target-test", "loading"),
    }
    assert len(messages) == 3
    assert result.processes[0].stderr_tail == ("extracting users", "done")


async def test_a_10_mb_stderr_line_is_logged_whole(tap, target, tmp_path) -> None:
    log = tmp_path / "run.log"
    result = await run(RunSpec(tap=tap("--stderr-line-mb", "10"), target=target(), log_path=log))
    assert result.succeeded
    with log.open("rb") as f:
        long_lines = [line for line in f if len(line) > 1 << 20]
    assert len(long_lines) == 1
    assert long_lines[0].split(b" | ", 1)[1] == b"e" * (10 << 20) + b"\n"
    assert len(result.processes[0].stderr_tail[0]) < 3000


async def test_the_runner_logs_its_own_events(tap, target, tmp_path) -> None:
    log = tmp_path / "run.log"
    await run(RunSpec(tap=tap("--exit-code", "4"), target=target(), log_path=log))
    events = [line.split(" flx | ", 1)[1] for line in log.read_text().splitlines()]
    assert events[0].startswith("started tap-test (pid ")
    assert "tap-test exited with code 4" in events
    assert events[-1].startswith("run failed in ")
