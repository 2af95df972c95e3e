"""Installing plugins in the background: a request records a job and returns at once; the
process that took it runs the install as a task and records how it went.

- ``RequestPluginInstall`` checks the names, writes the job ``queued`` and, once that is
  committed, hands it to this process's ``InstallJobRunner``.
- The runner sends ``RunInstallJob`` on the bus as the requester, one job at a time (two
  installs of one plugin would build the same venv), and writes a heartbeat meanwhile.
- ``GetInstallJob`` reads the job from the database, so any process answers. A job whose
  heartbeat has been silent for ``FLX_HEARTBEAT_TIMEOUT`` seconds (its process was killed)
  is reported failed: "the server stopped during the install".
- When the process shuts down, a job still running is cancelled and recorded failed with
  that same reason, never left ``running``.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from pydantic import Field

from flx_core.application import Application, Command, HandlerContext, Query
from flx_core.config import FlxSettings
from flx_core.domain import (
    InvalidTransition,
    NotFound,
    Permission,
    Principal,
    ServiceResult,
    ValidationFailed,
    new_id,
)
from flx_meltano.application.module import handlers
from flx_meltano.engine.install import install
from flx_meltano.install_jobs import (
    SERVER_STOPPED,
    InstallJob,
    InstallJobRepository,
    InstallStatus,
    PluginInstallResult,
)

handlers.sql_repositories[InstallJobRepository] = InstallJobRepository
log = structlog.get_logger(__name__)


class RequestPluginInstall(Command):
    """Install plugins into their venvs in the background; the job is returned at once
    (``queued``) and ``GetInstallJob`` follows it."""

    permission = Permission.PLUGIN_MANAGE

    names: list[str] = Field(
        default_factory=list,
        description="Plugins to install; every plugin with a pip_url when empty",
    )
    force: bool = Field(default=False, description="Reinstall plugins that are up to date")


class GetInstallJob(Query):
    permission = Permission.PLUGIN_READ

    job_id: str


class RunInstallJob(Command):
    """Run queued job ``job_id`` here and now (what the runner sends; clients request)."""

    permission = Permission.PLUGIN_MANAGE

    job_id: str


class InstallJobRunner:
    """Runs the install jobs requested in this process, as tasks of its event loop.

    Built by the engine's module factory; it learns the application when that starts
    (``attach``). The tasks are kept here until they end, so none is garbage-collected
    half-way, and ``aclose`` ends them as failed when the process shuts down.
    """

    def __init__(self, settings: FlxSettings) -> None:
        self.settings = settings
        self._app: Application | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._turn = asyncio.Lock()

    def attach(self, app: Application) -> None:
        self._app = app

    @property
    def active(self) -> list[str]:
        return list(self._tasks)

    def start(self, job_id: str, principal: Principal) -> None:
        app = self._require_app()
        task = asyncio.get_running_loop().create_task(
            self._run(app, job_id, principal), name=f"flx-install-{job_id}"
        )
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    def _require_app(self) -> Application:
        if self._app is None:
            raise RuntimeError("the install job runner is not attached to a started application")
        return self._app

    async def _run(self, app: Application, job_id: str, principal: Principal) -> None:
        beating = asyncio.create_task(self._beat(app, job_id), name=f"flx-install-beat-{job_id}")
        error: str | None = None
        try:
            async with self._turn:
                result = await app.execute(RunInstallJob(job_id=job_id), principal=principal)
            if not result.ok and result.error_code != InvalidTransition.code:
                # (a job that is not queued any more is someone else's to record)
                error = result.message or result.error_code or "the install could not run"
        except asyncio.CancelledError:
            error = SERVER_STOPPED
            raise
        except Exception as exc:
            log.exception("install_job_crashed", job=job_id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            if error is not None:
                await self._give_up(app, job_id, error)

    async def _beat(self, app: Application, job_id: str) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                async with app.uow_factory() as uow:
                    await uow.get(InstallJobRepository).beat(job_id, app.clock.now())
                    await uow.commit()
            except Exception as exc:  # the next beat tries again
                log.warning("install_job_heartbeat_failed", job=job_id, error=str(exc))

    async def _give_up(self, app: Application, job_id: str, error: str) -> None:
        """Record the job failed with ``error``, unless it ended already."""
        try:
            async with app.uow_factory() as uow:
                await uow.get(InstallJobRepository).finish(
                    job_id, InstallStatus.FAILED, app.clock.now(), error=error
                )
                await uow.commit()
        except Exception:
            log.exception("install_job_not_recorded", job=job_id, error=error)

    async def aclose(self) -> None:
        """Stop the jobs still running (the process is shutting down) and wait until each
        is recorded failed."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@handlers.command(RequestPluginInstall)
async def request_plugin_install(
    cmd: RequestPluginInstall, ctx: HandlerContext, *, install_jobs: InstallJobRunner
) -> ServiceResult[InstallJob]:
    known = {p.name: p for p in await ctx.uow.plugins.list()}
    unknown = [n for n in cmd.names if n not in known]
    if unknown:
        raise NotFound(f"unknown plugin(s): {', '.join(unknown)}", plugins=unknown)
    names = list(dict.fromkeys(cmd.names)) or sorted(n for n, p in known.items() if p.pip_url)
    if not names:
        raise ValidationFailed("nothing to install: no plugin has a pip_url")
    job = InstallJob(
        id=new_id(),
        status=InstallStatus.QUEUED,
        names=names,
        force=cmd.force,
        requested_by=ctx.principal.subject,
        created_at=ctx.clock.now(),
    )
    await ctx.uow.get(InstallJobRepository).add(job)
    principal = ctx.principal
    ctx.after_commit(lambda: install_jobs.start(job.id, principal))
    return ServiceResult.success(job)


@handlers.command(RunInstallJob)
async def run_install_job(
    cmd: RunInstallJob, ctx: HandlerContext, *, settings: FlxSettings
) -> ServiceResult[InstallJob]:
    """The install itself, as ``InstallPlugins`` does it, but in short transactions of its
    own: none stays open while the venvs are built (on SQLite an open one would hold the
    write lock, and the heartbeat and every other writer would wait for the install)."""
    async with ctx.uow_factory() as uow:
        jobs = uow.get(InstallJobRepository)
        job = await jobs.get(cmd.job_id)
        if job is None:
            raise NotFound(f"install job {cmd.job_id!r} not found", job=cmd.job_id)
        if not await jobs.start(job.id, ctx.clock.now()):
            raise InvalidTransition(
                f"install job {job.id} is {job.status.value}, not queued", job=job.id
            )
        plugins = {p.name: p for p in await uow.plugins.list()}
        await uow.commit()
    chosen = [plugins[n] for n in job.names if n in plugins]
    done = {
        r.name: PluginInstallResult.model_validate(r.as_dict())
        for r in await install(
            chosen, settings.plugins_path, parallel=settings.install_parallelism, force=job.force
        )
    }
    results = [
        done.get(n)
        or PluginInstallResult(
            name=n, status="failed", error=f"plugin {n!r} was removed before its install"
        )
        for n in job.names
    ]
    failed = [r for r in results if r.status == "failed"]
    status = InstallStatus.FAILED if failed else InstallStatus.SUCCEEDED
    error = "\n".join(f"{r.name}: {r.error}" for r in failed) or None
    async with ctx.uow_factory() as uow:
        jobs = uow.get(InstallJobRepository)
        await jobs.finish(job.id, status, ctx.clock.now(), results=results, error=error)
        finished = await jobs.get(job.id)
        await uow.commit()
    return ServiceResult.success(finished or job)


@handlers.query(GetInstallJob)
async def get_install_job(
    qry: GetInstallJob, ctx: HandlerContext, *, settings: FlxSettings
) -> ServiceResult[InstallJob]:
    job = await ctx.uow.get(InstallJobRepository).get(qry.job_id)
    if job is None:
        raise NotFound(f"install job {qry.job_id!r} not found", job=qry.job_id)
    return ServiceResult.success(job.as_seen_at(ctx.clock.now(), settings.heartbeat_timeout))
