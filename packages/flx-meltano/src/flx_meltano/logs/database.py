"""Execution logs in the database, so that any process reaching it reads any run's log.

The log is stored as it is written: its bytes in order, in rows of at most ``CHUNK_BYTES``
(``log_chunks``: execution_id, seq, offset, data). Rows split at byte offsets, never at line
ends, so a line of any length goes through. A small append grows the last row while it
stays under ``GROW_BYTES``, so a quiet run shipped every half second does not leave a row
per tick.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flx_core.domain import utc_now
from flx_core.domain.ports import LogChunk, LogStorePort
from flx_meltano.tables import log_chunks as lc

CHUNK_BYTES = 1024 * 1024
GROW_BYTES = 64 * 1024

_OFFSET = lc.c["offset"]
_END = _OFFSET + func.length(lc.c.data)


class DatabaseLogStore(LogStorePort):
    """Logs in ``log_chunks``. ``fallback`` is read for an execution with no rows at all (a
    run logged before its logs went to the database, on this machine)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        fallback: LogStorePort | None = None,
    ) -> None:
        self._sessions = session_factory
        self.fallback = fallback

    async def append(self, execution_id: str, offset: int, data: bytes) -> None:
        """Store ``data`` at ``offset``. Bytes before the stored end are taken as already
        stored (a repeated append after a lost answer stores nothing twice); a gap after
        it is refused."""
        if offset < 0:
            raise ValueError("a log offset cannot be negative")
        async with self._sessions() as session, session.begin():
            last = (
                await session.execute(
                    select(lc.c.seq, _OFFSET, func.length(lc.c.data))
                    .where(lc.c.execution_id == execution_id)
                    .order_by(lc.c.seq.desc())
                    .limit(1)
                    .with_for_update()
                )
            ).first()
            end = last[1] + last[2] if last else 0
            if offset > end:
                raise ValueError(
                    f"log of execution {execution_id} holds {end} bytes: cannot append at {offset}"
                )
            data = data[end - offset :]
            if not data:
                return
            if last is not None and last[2] + len(data) <= GROW_BYTES:
                await _grow(session, execution_id, last[0], data)
                return
            await _insert(session, execution_id, last[0] + 1 if last else 0, end, data)

    async def read(self, execution_id: str, offset: int = 0, limit: int | None = None) -> LogChunk:
        if offset < 0:
            raise ValueError("a log offset cannot be negative")
        # The rows that end after ``offset`` and start before ``offset + limit``.
        query = select(_OFFSET, lc.c.data).where(lc.c.execution_id == execution_id, offset < _END)
        if limit is not None:
            query = query.where(offset + limit > _OFFSET)
        async with self._sessions() as session:
            rows = (await session.execute(query.order_by(lc.c.seq))).all()
            nothing = not rows and await _end(session, execution_id) is None
        if nothing and self.fallback is not None:
            return await self.fallback.read(execution_id, offset, limit)
        data = b"".join(bytes(row[1]) for row in rows)
        if rows:
            data = data[offset - rows[0][0] :]
        if limit is not None:
            data = data[:limit]
        return LogChunk(data=data, offset=offset, next_offset=offset + len(data))

    async def size(self, execution_id: str) -> int | None:
        async with self._sessions() as session:
            end = await _end(session, execution_id)
        if end is None and self.fallback is not None:
            return await self.fallback.size(execution_id)
        return end


async def _end(session: AsyncSession, execution_id: str) -> int | None:
    row = (
        await session.execute(
            select(_END).where(lc.c.execution_id == execution_id).order_by(lc.c.seq.desc()).limit(1)
        )
    ).first()
    return None if row is None else int(row[0])


async def _grow(session: AsyncSession, execution_id: str, seq: int, data: bytes) -> None:
    where = (lc.c.execution_id == execution_id) & (lc.c.seq == seq)
    old = (await session.execute(select(lc.c.data).where(where))).scalar_one()
    await session.execute(update(lc).where(where).values(data=bytes(old) + data))


async def _insert(
    session: AsyncSession, execution_id: str, seq: int, offset: int, data: bytes
) -> None:
    now = utc_now()
    rows: list[dict[str, Any]] = [
        {
            "execution_id": execution_id,
            "seq": seq + i,
            "offset": offset + start,
            "data": data[start : start + CHUNK_BYTES],
            "created_at": now,
        }
        for i, start in enumerate(range(0, len(data), CHUNK_BYTES))
    ]
    await session.execute(insert(lc), rows)
