"""A run with its logs in the database is read through ``ReadExecutionLog`` by a process
that has another FLX_HOME (another machine): the log comes from the database."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flx_core.application import AddPlugin, CreatePipeline
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import ExecutionStatus, Principal
from flx_meltano import ExecutionLog, ReadExecutionLog, RunPipeline

CONNECTORS = Path(__file__).parents[1] / "engine" / "connectors"
SYSTEM = Principal.system()
#: The noisy tap's stderr line: 10 MiB with no newline in it.
LONG_LINE = b"0123456789abcdef" * (10 * 1024 * 1024 // 16)


def connectors(bindir: Path) -> dict[str, Path]:
    """The fixture tap, writing one 10 MiB line to stderr first, and the fixture target."""
    bindir.mkdir()
    tap, target = bindir / "tap-noisy", bindir / "target-fixture"
    tap.write_text(
        "#!/bin/sh\n"
        f"{sys.executable} -c \"import sys; sys.stderr.write('0123456789abcdef' * "
        f'{len(LONG_LINE) // 16} + chr(10))"\n'
        f'exec {sys.executable} {CONNECTORS / "tap_fixture.py"} "$@"\n'
    )
    target.write_text(f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / "target_fixture.py"} "$@"\n')
    for path in (tap, target):
        path.chmod(0o755)
    return {"tap": tap, "target": target}


async def ok(runtime: Runtime, message: object) -> object:
    result = await runtime.app.execute(message, principal=SYSTEM)  # type: ignore[arg-type]
    assert result.ok, result.message
    return result.value


@pytest.fixture
async def runtimes(
    database_url: str, flx_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """The runtime that runs pipelines, and a reader sharing only its database."""
    monkeypatch.setenv("FLX_DATABASE_URL", database_url)
    monkeypatch.setenv("FLX_LOG_STORE", "database")
    runner = await bootstrap(load_settings(heartbeat_seconds=0.2), migrate=False)
    reader = await bootstrap(load_settings(home=tmp_path / "elsewhere"), migrate=False)
    try:
        yield runner, reader
    finally:
        await reader.aclose()
        await runner.aclose()


async def read_all(reader: Runtime, execution_id: str) -> bytes:
    got, offset = b"", 0
    while True:
        answer = await ok(reader, ReadExecutionLog(execution_id=execution_id, offset=offset))
        assert isinstance(answer, ExecutionLog)
        got += answer.chunk.data
        offset = answer.chunk.next_offset
        if answer.complete:
            return got


async def test_a_run_log_with_a_10_mib_line_is_read_from_another_home(
    runtimes: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    runner, reader = runtimes
    bins = connectors(tmp_path / "bin")
    await ok(
        runner,
        AddPlugin(plugin_type="extractor", name="tap-noisy", executable=str(bins["tap"])),
    )
    await ok(
        runner,
        AddPlugin(plugin_type="loader", name="target-fixture", executable=str(bins["target"])),
    )
    await ok(
        runner,
        CreatePipeline(
            name="p",
            extractor="tap-noisy",
            loader="target-fixture",
            config={"tap-noisy": {"rows": 5}, "target-fixture": {"path": str(tmp_path / "o")}},
        ),
    )
    queued = await ok(runner, RunPipeline(pipeline="p"))
    assert runner.executor is not None
    execution = await runner.executor.wait(queued.id)  # type: ignore[attr-defined]
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.error
    local = Path(execution.log_path).read_bytes()
    assert b" tap-noisy | " + LONG_LINE + b"\n" in local
    assert b"tap_fixture: done" in local
    # The run's own file is gone: what the reader gets can only come from the database.
    shutil.rmtree(Path(execution.log_path).parent)
    assert await read_all(reader, execution.id[:10]) == local
    tail = await ok(reader, ReadExecutionLog(execution_id=execution.id, tail=2))
    assert isinstance(tail, ExecutionLog)
    assert tail.chunk.data == b"".join(local.splitlines(keepends=True)[-2:])
    assert tail.chunk.next_offset == len(local) == tail.size


async def test_an_execution_without_a_log_says_so(runtimes: tuple[Runtime, Runtime]) -> None:
    _, reader = runtimes
    result = await reader.app.execute(ReadExecutionLog(execution_id="f" * 32), principal=SYSTEM)
    assert not result.ok and result.error_code == "not_found"
