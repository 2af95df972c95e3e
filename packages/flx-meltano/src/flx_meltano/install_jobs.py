"""Install jobs: a request to install connectors, run in the background by the process that
took it, and kept as a row so that any process sharing the database can tell how it went.

A job is ``queued`` until its turn comes, ``running`` while the venvs are built, then
``succeeded`` or ``failed`` with one result per plugin. The process running it writes a
heartbeat while the job is not over; a job whose heartbeat went silent (its process was
killed) is reported failed when read (see ``InstallJob.as_seen_at``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field
from sqlalchemy import JSON, Boolean, Column, String, Table, Text, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flx_core.domain import DomainValueObject
from flx_meltano.tables import TS, metadata

#: The error of a job whose process stopped before it ended.
SERVER_STOPPED = "the server stopped during the install"

install_jobs = Table(
    "install_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("names", JSON, nullable=False),
    Column("force", Boolean, nullable=False),
    Column("requested_by", String(255), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("started_at", TS),
    Column("finished_at", TS),
    Column("heartbeat_at", TS),
    Column("results", JSON, nullable=False),
    Column("error", Text),
)


class InstallStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (InstallStatus.SUCCEEDED, InstallStatus.FAILED)


UNFINISHED = (InstallStatus.QUEUED.value, InstallStatus.RUNNING.value)


class PluginInstallResult(DomainValueObject):
    """How the install of one plugin went."""

    name: str
    status: str = Field(description="installed, up_to_date, skipped or failed")
    duration: float = Field(default=0.0, description="Seconds")
    error: str | None = Field(default=None, description="The installer's last output lines")
    detail: str = ""


class InstallJob(DomainValueObject):
    """A request to install plugins and how it went."""

    id: str
    status: InstallStatus
    names: list[str] = Field(description="The plugins to install, in order")
    force: bool = Field(default=False, description="Reinstall plugins that are up to date")
    requested_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = Field(
        default=None, description="The last sign of life of the process running the job"
    )
    results: list[PluginInstallResult] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why the job failed")

    @property
    def last_sign_of_life(self) -> datetime:
        return self.heartbeat_at or self.started_at or self.created_at

    def as_seen_at(self, now: datetime, silence: float) -> InstallJob:
        """The job as a reader at ``now`` should see it: an unfinished job whose process
        has been silent for more than ``silence`` seconds is failed (its process was killed
        or lost its database; a live one writes a heartbeat every few seconds)."""
        if self.status.is_terminal:
            return self
        quiet = (now - self.last_sign_of_life).total_seconds()
        if quiet <= silence:
            return self
        return self.model_copy(
            update={
                "status": InstallStatus.FAILED,
                "finished_at": self.last_sign_of_life,
                "error": f"{SERVER_STOPPED} (no sign of life from it for {int(quiet)} s)",
            }
        )


def _utc(value: datetime | None) -> datetime | None:
    """A stored time in UTC (SQLite gives them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _job(row: Any) -> InstallJob:
    m = dict(row._mapping)
    for key in ("created_at", "started_at", "finished_at", "heartbeat_at"):
        m[key] = _utc(m[key])
    return InstallJob.model_validate(m)


class InstallJobRepository:
    """Install jobs on the unit of work's session. Updates of a job's progress apply only
    while it is unfinished, so a late writer never turns an ended job back."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, job: InstallJob) -> None:
        values = job.model_dump()
        values["status"] = job.status.value
        await self.session.execute(insert(install_jobs).values(**values))

    async def get(self, job_id: str) -> InstallJob | None:
        row = (
            await self.session.execute(select(install_jobs).where(install_jobs.c.id == job_id))
        ).first()
        return _job(row) if row is not None else None

    async def start(self, job_id: str, now: datetime) -> bool:
        """Mark queued job ``job_id`` running; False when it is not queued."""
        return await self._change(
            job_id,
            (InstallStatus.QUEUED.value,),
            status=InstallStatus.RUNNING.value,
            started_at=now,
            heartbeat_at=now,
        )

    async def beat(self, job_id: str, now: datetime) -> bool:
        """Record that the process running the job is alive."""
        return await self._change(job_id, UNFINISHED, heartbeat_at=now)

    async def finish(
        self,
        job_id: str,
        status: InstallStatus,
        now: datetime,
        *,
        results: list[PluginInstallResult] | None = None,
        error: str | None = None,
    ) -> bool:
        """End an unfinished job; False when it had ended already (or is unknown)."""
        values: dict[str, Any] = {"status": status.value, "finished_at": now, "error": error}
        if results is not None:
            values["results"] = [r.model_dump(mode="json") for r in results]
        return await self._change(job_id, UNFINISHED, **values)

    async def _change(self, job_id: str, allowed: tuple[str, ...], **values: Any) -> bool:
        result = await self.session.execute(
            update(install_jobs)
            .where(install_jobs.c.id == job_id, install_jobs.c.status.in_(allowed))
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
