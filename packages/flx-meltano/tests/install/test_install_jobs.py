"""Install jobs: requested, run in the background one at a time with a heartbeat, recorded
per plugin; a job whose process went silent reads as failed, and a shutdown records the job
it stops as failed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import AddPlugin, GetPlugin
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import Principal
from flx_meltano import GetInstallJob, InstallJob, InstallStatus, RequestPluginInstall
from flx_meltano.engine.commands import plugin_command
from flx_meltano.install_jobs import SERVER_STOPPED, InstallJobRepository

SYSTEM = Principal.system()
DEADLINE = 180.0


def local_package(root: Path, name: str) -> Path:
    """A tiny installable project with a console script ``name``."""
    pkg = root / f"{name}-src"
    module = name.replace("-", "_")
    (pkg / module).mkdir(parents=True)
    (pkg / module / "__init__.py").write_text(f"def main():\n    print('{name}')\n")
    (pkg / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\n'
        f'[project.scripts]\n"{name}" = "{module}:main"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    return pkg


async def _runtime(flx_home: Path, database_url: str) -> Runtime:
    settings = load_settings(
        home=flx_home, database_url=database_url, heartbeat_seconds=0.1, heartbeat_timeout=30
    )
    return await bootstrap(settings, migrate=False)


@pytest.fixture
async def runtime(flx_home: Path, database_url: str) -> AsyncIterator[Runtime]:
    rt = await _runtime(flx_home, database_url)
    yield rt
    await rt.aclose()


async def send(rt: Runtime, message: Any) -> Any:
    return (await rt.app.execute(message, principal=SYSTEM)).unwrap()


async def add(rt: Runtime, name: str, pip_url: str | None = None) -> None:
    await send(rt, AddPlugin(plugin_type="extractor", name=name, pip_url=pip_url))


async def until(rt: Runtime, job_id: str, done: Callable[[InstallJob], bool]) -> InstallJob:
    deadline = time.monotonic() + DEADLINE
    while True:
        job: InstallJob = await send(rt, GetInstallJob(job_id=job_id))
        if done(job):
            return job
        assert time.monotonic() < deadline, f"job still {job.status}: {job}"
        await asyncio.sleep(0.05)


def ended(job: InstallJob) -> bool:
    return job.status.is_terminal


@pytest.mark.network
async def test_a_requested_install_runs_in_the_background_with_a_result_per_plugin(
    runtime: Runtime, tmp_path: Path
) -> None:
    await add(runtime, "tap-tiny", str(local_package(tmp_path, "tap-tiny")))
    await add(runtime, "tap-on-path")
    job: InstallJob = await send(runtime, RequestPluginInstall(names=["tap-tiny", "tap-on-path"]))
    assert job.status is InstallStatus.QUEUED
    assert job.requested_by == SYSTEM.subject
    finished = await until(runtime, job.id, ended)
    assert finished.status is InstallStatus.SUCCEEDED, finished.error
    assert [(r.name, r.status) for r in finished.results] == [
        ("tap-tiny", "installed"),
        ("tap-on-path", "skipped"),
    ]
    assert finished.started_at is not None and finished.finished_at is not None
    tiny = await send(runtime, GetPlugin(name="tap-tiny"))
    command = Path(plugin_command(tiny, runtime.settings.plugins_path))
    assert command.is_relative_to(runtime.settings.plugins_path)
    assert command.exists()


async def test_a_failing_install_ends_failed_with_the_installer_error(
    runtime: Runtime, tmp_path: Path
) -> None:
    await add(runtime, "tap-broken", str(tmp_path / "no-such-project"))
    job: InstallJob = await send(runtime, RequestPluginInstall(names=["tap-broken"]))
    finished = await until(runtime, job.id, ended)
    assert finished.status is InstallStatus.FAILED
    assert finished.error is not None and finished.error.startswith("tap-broken: ")
    assert "no-such-project" in finished.error
    assert finished.results[0].status == "failed"


async def test_unknown_names_and_nothing_to_install_are_refused(runtime: Runtime) -> None:
    unknown = await runtime.app.execute(
        RequestPluginInstall(names=["tap-nowhere"]), principal=SYSTEM
    )
    assert unknown.error_code == "not_found"
    # The built-in connectors run from this installation: none has a pip_url.
    empty = await runtime.app.execute(RequestPluginInstall(), principal=SYSTEM)
    assert empty.error_code == "invalid"
    assert "no plugin has a pip_url" in (empty.message or "")


async def test_a_job_whose_process_went_silent_reads_as_failed(runtime: Runtime) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    fresh = datetime.now(UTC)
    jobs = {
        "silent": InstallJob(
            id="silent",
            status=InstallStatus.RUNNING,
            names=["tap-x"],
            requested_by="someone",
            created_at=long_ago,
            started_at=long_ago,
            heartbeat_at=long_ago,
        ),
        "never-started": InstallJob(
            id="never-started",
            status=InstallStatus.QUEUED,
            names=["tap-x"],
            requested_by="someone",
            created_at=long_ago,
        ),
        "alive": InstallJob(
            id="alive",
            status=InstallStatus.RUNNING,
            names=["tap-x"],
            requested_by="someone",
            created_at=long_ago,
            started_at=long_ago,
            heartbeat_at=fresh,
        ),
    }
    async with runtime.app.uow_factory() as uow:
        for job in jobs.values():
            await uow.get(InstallJobRepository).add(job)
        await uow.commit()
    for job_id in ("silent", "never-started"):
        seen: InstallJob = await send(runtime, GetInstallJob(job_id=job_id))
        assert seen.status is InstallStatus.FAILED
        assert (seen.error or "").startswith(SERVER_STOPPED)
    alive: InstallJob = await send(runtime, GetInstallJob(job_id="alive"))
    assert alive.status is InstallStatus.RUNNING
    missing = await runtime.app.execute(GetInstallJob(job_id="nope"), principal=SYSTEM)
    assert missing.error_code == "not_found"


async def test_jobs_run_one_at_a_time_beat_and_a_shutdown_records_them_failed(
    flx_home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def hangs(*args: Any, **kwargs: Any) -> list[Any]:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr("flx_meltano.application.install_jobs.install", hangs)
    rt = await _runtime(flx_home, database_url)
    try:
        await add(rt, "tap-slow", "tap-slow==1.0")
        first: InstallJob = await send(rt, RequestPluginInstall(names=["tap-slow"]))
        second: InstallJob = await send(rt, RequestPluginInstall(names=["tap-slow"]))
        await asyncio.wait_for(started.wait(), DEADLINE)
        running = await until(rt, first.id, lambda j: j.status is InstallStatus.RUNNING)
        assert running.started_at is not None
        beaten = await until(
            rt,
            first.id,
            lambda j: j.heartbeat_at is not None and j.heartbeat_at > running.started_at,  # type: ignore[operator]
        )
        assert beaten.status is InstallStatus.RUNNING
        waiting: InstallJob = await send(rt, GetInstallJob(job_id=second.id))
        assert waiting.status is InstallStatus.QUEUED
    finally:
        await rt.aclose()
    reader = await _runtime(flx_home, database_url)
    try:
        for job in (first, second):
            stopped: InstallJob = await send(reader, GetInstallJob(job_id=job.id))
            assert stopped.status is InstallStatus.FAILED
            assert stopped.error == SERVER_STOPPED
            assert stopped.finished_at is not None
    finally:
        await reader.aclose()
