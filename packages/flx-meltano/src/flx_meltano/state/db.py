"""The database state store (the default): every committed state is a version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flx_core.domain import NotFound, utc_now
from flx_core.domain.ports import StateStorePort, StateVersion
from flx_core.infrastructure.persistence.cursor import aware
from flx_meltano.tables import state_versions as sv


def _version(row: Any) -> StateVersion:
    m = row._mapping
    return StateVersion(
        state_id=m["state_id"],
        version=m["version"],
        value=m["value"],
        created_at=aware(m["created_at"]),
        execution_id=m["execution_id"],
        partial=m["partial"],
        note=m["note"],
    )


class DatabaseStateStore(StateStorePort):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], retention: int = 100):
        self._sessions = session_factory
        self.retention = retention

    async def get(self, state_id: str) -> StateVersion | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(sv)
                    .where(sv.c.state_id == state_id)
                    .order_by(sv.c.version.desc())
                    .limit(1)
                )
            ).first()
        return _version(row) if row else None

    async def set(
        self,
        state_id: str,
        value: dict[str, Any],
        *,
        execution_id: str | None = None,
        partial: bool = False,
        note: str = "",
    ) -> StateVersion:
        async with self._sessions() as session, session.begin():
            latest = (
                await session.execute(
                    select(func.max(sv.c.version)).where(sv.c.state_id == state_id)
                )
            ).scalar()
            version = (latest or 0) + 1
            created = utc_now()
            await session.execute(
                insert(sv).values(
                    state_id=state_id,
                    version=version,
                    value=value,
                    partial=partial,
                    execution_id=execution_id,
                    note=note,
                    created_at=created,
                )
            )
            if version > self.retention:
                await session.execute(
                    delete(sv).where(
                        sv.c.state_id == state_id, sv.c.version <= version - self.retention
                    )
                )
        return StateVersion(
            state_id=state_id,
            version=version,
            value=value,
            created_at=created,
            execution_id=execution_id,
            partial=partial,
            note=note,
        )

    async def history(self, state_id: str, *, limit: int = 50) -> list[StateVersion]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(sv)
                    .where(sv.c.state_id == state_id)
                    .order_by(sv.c.version.desc())
                    .limit(limit)
                )
            ).all()
        return [_version(r) for r in rows]

    async def restore(self, state_id: str, version: int) -> StateVersion:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(sv).where(sv.c.state_id == state_id, sv.c.version == version)
                )
            ).first()
        if row is None:
            raise NotFound(
                f"state {state_id!r} has no version {version}", state_id=state_id, version=version
            )
        old = _version(row)
        return await self.set(state_id, old.value, note=f"restored from version {version}")

    async def clear(self, state_id: str) -> None:
        if await self.get(state_id) is None:
            raise NotFound(f"no state stored for {state_id!r}", state_id=state_id)
        await self.set(state_id, {}, note="cleared")

    async def list_ids(self) -> list[str]:
        async with self._sessions() as session:
            rows = (
                await session.execute(select(sv.c.state_id).distinct().order_by(sv.c.state_id))
            ).all()
        return [r[0] for r in rows]
